"""Staff administration: validated uploads, one re-index job at a time, versions and audit log."""
