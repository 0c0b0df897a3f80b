"""Simulation side of rtlflow: the bit-exact emulator, the float interpreter, testbenches, Verilator."""
