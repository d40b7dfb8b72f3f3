# expect: raised AttributeError
# No frames to walk from an exception's traceback.
def handler(event, context):
    try:
        1 / 0
    except ZeroDivisionError as e:
        return str(e.__traceback__.tb_frame.f_globals)
