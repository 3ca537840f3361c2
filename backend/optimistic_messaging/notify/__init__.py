"""Reaching people whose app is closed: the VAPID key, the host check every outbound request passes, subscriptions."""
