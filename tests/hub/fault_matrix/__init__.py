"""An external fault-matrix harness for the hub (issue 14): real processes, loss counted at
the receivers. See test_fault_matrix.py for what each case checks."""
