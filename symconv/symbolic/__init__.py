"""The SymPy core: explicit (named symbols) and closed (IndexedBase + Sum) derivations.

Imports nothing from numpy, torch or rich.
"""
