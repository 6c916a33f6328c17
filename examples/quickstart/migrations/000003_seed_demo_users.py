"""Seed two demo users (a Python migration: data work with parameters)."""

USERS = [("ada@example.com", "Ada"), ("linus@example.com", "Linus")]


def up(ctx):
    p = ctx.placeholder
    for email, name in USERS:
        ctx.execute(f"INSERT INTO users (email, name) VALUES ({p}, {p})", (email, name))
    ctx.log.info("seeded %d users", len(USERS))


def down(ctx):
    p = ctx.placeholder
    for email, _ in USERS:
        ctx.execute(f"DELETE FROM users WHERE email = {p}", (email,))
