"""Reminders and escalation (催办、提级督办): the rules, the scan that applies
them for a day, and the per-plan configuration of the rules."""
