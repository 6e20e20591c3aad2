"""What tests/ and bench/ share: real consumers, the real CLI, a real
redis-server and web server (support), synthetic sky images (skyfield).

Not part of the installed package, and no pytest here: the bench/ scripts,
plain programs run from the checkout, import it too. It names files under
tests/ (data, the stand-in extractor) by path but imports nothing from
tests/ or bench/.
"""
