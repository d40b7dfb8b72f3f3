# expect: timeout
# A loop of host clock reads: time in the host counts too.
import time
def handler(event, context):
    while True:
        time.time()
