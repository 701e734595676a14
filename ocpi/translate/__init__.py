"""Translation of OCPI objects between versions (2.1.1, 2.2.1, 2.3.0): pure, no I/O.

Each translation returns a `Translated` value with the notes of what could not be carried
(`Loss`), or raises `Untranslatable` when carrying the object would change its meaning.
One module per version pair: `ocpi.translate.v211` (2.1.1 <-> 2.2.1) and
`ocpi.translate.v230` (2.2.1 <-> 2.3.0); 2.2.1 is the pivot.
"""

from __future__ import annotations

from ocpi.translate.notes import Loss, Translated, Untranslatable

__all__ = ["Loss", "Translated", "Untranslatable"]
