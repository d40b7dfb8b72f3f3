# expect: timeout
# Slow string work under the memory limit.
def handler(event, context):
    while True:
        s = ''
        for i in range(1000):
            s += str(i)
