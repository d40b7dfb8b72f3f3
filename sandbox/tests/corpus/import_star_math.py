# expect: compile
# Wildcard imports are not supported.
from math import *
def handler(event, context):
    return pi
