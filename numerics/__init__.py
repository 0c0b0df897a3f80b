"""The numbers of rtlflow: fixed-point formats, casts and quantizers, convolution windows,
indexing maps and normalisation. A leaf: it imports nothing else of rtlflow, and the dialects,
the hardware units (rtl/) and the emulator (sim/) all share its one definition of each rule."""
