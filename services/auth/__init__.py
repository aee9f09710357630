"""auth: sign up, sign in, sign out, who am I. Mints the JWTs every other service verifies."""
