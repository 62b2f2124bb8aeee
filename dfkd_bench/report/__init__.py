"""Reports built from recorded run directories (summary tables now; the paper's tables and figures later)."""
