"""Questionnaire parsing: extraction, the offline programmer and the IR builder."""
