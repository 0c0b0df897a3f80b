"""Compiler passes, one per file: conversions between levels and transforms within one level."""
