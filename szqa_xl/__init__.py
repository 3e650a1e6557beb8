"""szqa-xl: Excel scoresheets and consolidation for the Shenzhen Mayor's Quality Award."""

__version__ = "0.1.0"
