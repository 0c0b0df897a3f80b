"""Simulation side of rtlflow: fixed-point arithmetic, the bit-exact emulator, testbenches, Verilator."""
