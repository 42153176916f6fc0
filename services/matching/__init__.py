"""Matching: the pure price-time priority engine, its replay tool and its benchmark."""
