"""alp-cds: a CDS Hooks 2.0 service for alkaline phosphatase follow-up."""

__version__ = "0.1.0"
