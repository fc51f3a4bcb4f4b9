"""Models that try to end the process, or raise what `except Exception` does not catch."""

import sys

import torch.nn as nn


class ExitInInit(nn.Module):
    def __init__(self):
        super().__init__()
        sys.exit(4)

    def forward(self, x):
        return x.relu()


class ExitInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        sys.exit("forward refuses to run")


class BuiltinExit(nn.Module):
    def __init__(self):
        super().__init__()
        exit()

    def forward(self, x):
        return x.relu()


class Abort(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


class RaisesBaseException(nn.Module):
    def __init__(self):
        super().__init__()
        raise Abort("constructor aborted")

    def forward(self, x):
        return x.relu()


class RaisesBaseExceptionInForward(nn.Module):
    def forward(self, x):
        raise Abort("forward aborted")
