# expect: compile
# `from os import system` is refused.
from os import system
def handler(event, context):
    return system('id')
