//! The PULPO WMS REST API v1 sandbox.
