"""Dramatiq broker and actors. Actors are thin: they call one store service each."""
