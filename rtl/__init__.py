"""Amaranth components for rtlflow's hardware units (independent of the compiler and its IR)."""
