"""Shape guards followed, partial traces, hints, --input-shape dtypes, --anchor warnings."""

from __future__ import annotations

from conftest import after_anchors, analyse, before_anchors

from relufind.argvalues import parse_input


def test_assert_on_sizes_is_followed_and_recorded(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Guarded(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3, padding=1)
                self.lstm = nn.LSTM(4, 4)

            def forward(self, x):
                y = F.relu(self.conv(x))
                b, c, h, w = y.size()
                assert h == 1, "height must be 1"
                if c != 4:
                    raise ValueError("channels")
                out, _ = self.lstm(y.squeeze(2).permute(2, 0, 1))
                return out
        """
    )
    result = analyse(f"{path}:Guarded")
    assert result.status == "ok"
    assert [(a.source.line, a.statement) for a in result.assumptions] == [
        (15, "assert h == 1"),  # line numbers count the imports conftest puts first
        (16, "if c != 4: raise ValueError(...)"),
    ]
    (site,) = result.sites
    assert after_anchors(site) == ["conv"] and before_anchors(site) == ["lstm"]


def test_value_dependent_branches_still_fail(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Valued(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(4, 4, 1)

            def forward(self, x):
                x = F.relu(self.conv(x))
                if x.sum() > 0:
                    raise ValueError("positive")
                return x.relu()
        """
    )
    result = analyse(f"{path}:Valued")
    assert result.status == "partial" and result.assumptions == ()
    (untraced,) = result.untraced
    assert untraced.source is not None and untraced.source.line == 13
    assert untraced.statement == "if x.sum() > 0:"
    assert untraced.hint is None  # values, not shapes: --input-shape cannot help
    traced, read = result.sites
    assert traced.traced and after_anchors(traced) == ["conv"] and not traced.before_complete
    assert not read.traced and read.region == "" and read.source is not None and read.source.line == 15


def test_a_shape_question_gets_an_input_shape_hint(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Loops(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, padding=1)

            def forward(self, x):
                x = F.relu(self.conv(x))
                for i in range(x.size(1)):
                    x = x + 1
                return x
        """
    )
    result = analyse(f"{path}:Loops")
    (untraced,) = result.untraced
    assert untraced.hint == "try --input-shape 1,3,32,100"
    fixed = analyse(f"{path}:Loops", input_shapes=((1, 3, 8, 8),))
    assert fixed.traced_with == "torch.export" and fixed.status == "ok"


def test_a_failed_input_shape_retry_says_why(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Branchy(nn.Module):
            def forward(self, x):
                if x.mean() > 0:
                    return F.relu(x)
                return x
        """
    )
    result = analyse(f"{path}:Branchy", input_shapes=((2, 3),))
    assert result.traced_with == "fx"
    assert len(result.notes) == 1 and result.notes[0].startswith("--input-shape: the torch.export retry failed too")


def test_input_shape_dtype_for_token_ids(write_model) -> None:  # type: ignore[no-untyped-def]
    assert parse_input("8,20:long") == ((8, 20), "long")
    assert parse_input("1x3x8x8") == ((1, 3, 8, 8), None)
    path = write_model(
        """
        class Tokens(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(50, 8)
                self.gru = nn.GRU(8, 8, batch_first=True)

            def forward(self, ids):
                n = int(ids.shape[1])
                out, _ = self.gru(F.relu(self.emb(ids[:, :n])))
                return out
        """
    )
    plain = analyse(f"{path}:Tokens")
    assert plain.untraced[0].hint == "try --input-shape 1,20:long"
    result = analyse(f"{path}:Tokens", input_shapes=((8, 20),), input_dtypes=("long",))
    assert result.traced_with == "torch.export"
    assert [before_anchors(s) for s in result.sites] == [["gru"]]


def test_an_anchor_name_matching_no_class_warns(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                return F.relu(self.fc(x))
        """
    )
    result = analyse(f"{path}:Net", anchors=("Linear", "Lienar"))
    assert len(result.notes) == 1 and "--anchor Lienar matches no module class" in result.notes[0]
    assert after_anchors(result.sites[0]) == ["fc"]


def test_conv_subclass_in_an_untraced_region_is_one_anchor(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class MyConv(nn.Conv1d):
            def forward(self, x):
                return F.relu(F.conv1d(x, self.weight, self.bias))

        class Outer(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = MyConv(4, 4, 1)
                self.clip = 20.0

            def forward(self, x):
                if x.mean() > 0:
                    x = x * 2
                x = F.hardtanh(self.conv(x), 0, self.clip)
                return x.relu()
        """
    )
    result = analyse(f"{path}:Outer", variants=True)
    assert [a.path for a in result.anchors] == ["conv"]
    variants = sorted((s.module_path, s.variant) for s in result.sites)
    # the bound self.clip is read off the built module: a clipped ReLU, never a plain one
    assert variants == [("", "clipped_relu"), ("", "relu"), ("conv", "relu")]
    inner = next(s for s in result.sites if s.module_path == "conv")
    assert after_anchors(inner) == ["conv"]
