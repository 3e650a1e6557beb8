"""The award's stages after the first: shortlists, seeded scoresheets, the final ranking, the year's archive."""
