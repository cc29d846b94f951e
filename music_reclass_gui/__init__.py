"""Music ReClass: classify, review, tag and reorganise a music library by genre."""

__version__ = "0.1.0"
