"""`python -m tests.doubles.member --role CPO --party DE/CPB --port 8101`: one double, served."""

from tests.doubles.member.process import main

main()
