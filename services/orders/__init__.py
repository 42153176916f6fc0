"""The orders service: order entry API, accounts engine, settlement relay and projector."""
