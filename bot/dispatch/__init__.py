"""Routing, decision and delivery of records to responsible units."""
