"""Farcaster mini-app notifications (v1.2): the signed webhook events, the Quick Auth link, and their checks."""
