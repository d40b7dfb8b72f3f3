# expect: compile
# Only the stand-in's names can be imported from `random`.
from random import SystemRandom
def handler(event, context):
    return SystemRandom().random()
