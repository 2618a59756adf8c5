"""Find the layers of a model, nested models included, and build probe models to their outputs.

A pretrained base is *one* layer of a transfer model, and under Keras 3 its inner layers live in
its own graph: ``keras.Model(model.inputs, inner.output)`` fails (Keras >= 3.14 when it is built,
3.13 when it is called). So ``probe_model`` runs the model's layers again on a fresh input,
stepping into nested models (same weights, model unchanged). A layer is named by its name, path
(``"base/block_1_expand"``) or index.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255),
...     keras.layers.Conv2D(4, 3, name="conv"), keras.layers.ReLU(name="relu"),
...     keras.layers.MaxPooling2D(name="pool"), keras.layers.Flatten(), keras.layers.Dense(1)])
>>> feature_map_layers(model), last_conv_layer(model), layer_shapes(model, ["pool"])
(['conv', 'relu', 'pool'], 'relu', {'pool': (3, 3, 4)})
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from coursekit import config

keras = config.import_keras()

CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
              keras.layers.Conv2DTranspose)
ACTIVATION_TYPES = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU,
                    keras.layers.ELU, keras.layers.PReLU, keras.layers.Softmax)
#: The layers with feature maps worth a look (batch-norm, padding, rescaling and augmentation
#: layers are left out); Grad-CAM explains the same layers except the pooling ones.
MAP_TYPES = CONV_TYPES + ACTIVATION_TYPES + (keras.layers.Add, keras.layers.Concatenate)
POOLING_TYPES = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


def walk(model, prefix: str = ""):
    """Yield (path, layer) for every layer, nested models expanded in place (inputs skipped).
    Only single-input models whose input is known (``keras.Input`` first) can be walked."""
    if not prefix and len(getattr(model, "inputs", None) or []) != 1:
        raise ValueError(f"expected a keras.Model with one known input (built with "
                         f"keras.Input(shape=...) first), got {getattr(model, 'name', model)!r}")
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            yield from walk(layer, prefix=f"{path}/")
        elif not isinstance(layer, keras.layers.InputLayer):
            yield path, layer


def layer_names(model) -> list[str]:
    """Return the names of all layers in order, those of nested models listed in place."""
    return [layer.name for _, layer in walk(model)]


def get_layer(model, layer: str | int):
    """Return the layer named ``layer`` (or at that index), nested models included.

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c")],
    ...                          name="tiny")
    >>> get_layer(model, -1).name
    'c'
    >>> get_layer(model, "conv9")
    Traceback (most recent call last):
    ValueError: no layer named 'conv9' in model 'tiny'. Layers that exist: c
    """
    entries = list(walk(model))
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if -len(entries) <= int(layer) < len(entries):
            return entries[int(layer)][1]
        raise ValueError(f"layer index {layer} is out of range: model {model.name!r} has "
                         f"{len(entries)} layers (indices 0 to {len(entries) - 1}, or negative)")
    for path, found in entries:
        if layer in (found.name, path):
            return found
    raise ValueError(f"no layer named {layer!r} in model {model.name!r}. Layers that exist: "
                     f"{', '.join(found.name for _, found in entries)}")


def output_shape(model, layer: str | int) -> tuple:
    """Return a layer's output shape for one image (the batch axis dropped)."""
    return tuple(get_layer(model, layer).output.shape[1:])


def feature_map_layers(model, pooling: bool = True) -> list[str]:
    """Return the layers whose output is a (height, width, channels) stack of feature maps
    worth a look (``MAP_TYPES``, and the pooling layers unless ``pooling=False``)."""
    types = MAP_TYPES + (POOLING_TYPES if pooling else ())
    return [layer.name for _, layer in walk(model)
            if isinstance(layer, types) and len(layer.output.shape) == 4]


def gradcam_layers(model) -> list[str]:
    """Return the layers Grad-CAM can explain: convolutions and activations with a map."""
    return feature_map_layers(model, pooling=False)


def last_conv_layer(model) -> str:
    """Return the deepest convolution (or activation after one) that still has a spatial map."""
    candidates = gradcam_layers(model)
    if not candidates:
        raise ValueError(f"model {model.name!r} has no convolution layer with a spatial "
                         f"output. Layers that exist: {', '.join(layer_names(model))}")
    return candidates[-1]


def layer_shapes(model, layers=None) -> dict[str, tuple]:
    """Return {layer name: output shape} for ``layers`` (default: ``feature_map_layers``)."""
    names = feature_map_layers(model) if layers is None else [get_layer(model, layer).name
                                                              for layer in layers]
    if not names:
        raise ValueError(f"model {model.name!r} has no layer with feature maps. Layers that "
                         f"exist: {', '.join(layer_names(model))}")
    return {name: output_shape(model, name) for name in names}


def probe_model(model, layers, linear=()):
    """Return a ``keras.Model`` from ``model``'s input to the outputs of ``layers`` (one: a
    tensor; several: a list), those in ``linear`` *before* their activation (a sigmoid head: its
    logit). Built once per (model, layers, linear), with the model's current weights.

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(
    ...     1, 3, activation="relu", kernel_initializer="ones", name="conv")])
    >>> probe = probe_model(model, ["conv"], linear=["conv"])
    >>> dark = -np.ones((1, 8, 8, 3))
    >>> float(probe(dark)[0, 0, 0, 0]), float(model(dark)[0, 0, 0, 0])   # before / after ReLU
    (-27.0, 0.0)
    """
    chosen = tuple(get_layer(model, layer) for layer in layers)
    flat = tuple(get_layer(model, layer) for layer in linear)
    probe, clones = cached(model, ("probe", tuple(map(id, chosen)), tuple(map(id, flat))),
                           lambda: _probe(model, chosen, flat))
    for layer, clone in clones:
        clone.set_weights(layer.get_weights())  # the user's layer may have trained since
    return probe


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached(model, key, build, size: int = 32):
    """Return ``build()``, made once per (``model``, ``key``), at most ``size`` per model: the
    cache holds the model weakly, so a model nobody uses is freed with its entries.

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> cached(model, "answer", lambda: 42), cached(model, "answer", lambda: 0)
    (42, 42)
    """
    entries = _CACHES.setdefault(model, {})
    if key not in entries:
        if len(entries) >= size:
            entries.pop(next(iter(entries)))
        entries[key] = build()
    return entries[key]


def _probe(model, layers: tuple, linear: tuple):
    replace, clones = {}, []
    for layer in linear:
        if isinstance(layer, ACTIVATION_TYPES):
            replace[id(layer)] = lambda x: x  # an activation layer without activation
        elif layer.get_config().get("activation") not in (None, "linear"):
            clone = type(layer).from_config({**layer.get_config(), "activation": "linear",
                                             "name": f"{layer.name}_linear"})
            replace[id(layer)] = clone
            clones.append((layer, clone))
    inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
    found: dict = {}
    _rebuild(model, inputs, {id(layer) for layer in layers}, found, replace)
    missing = [layer.name for layer in layers if id(layer) not in found]
    if missing:
        raise ValueError(f"layers {missing} are not on the path from the input to the output "
                         f"of model {model.name!r}, so they have no activation")
    probe = keras.Model(inputs, [found[id(layer)] for layer in layers], name=f"{model.name}_probe")
    return probe, tuple(clones)


def _rebuild(model, inputs, wanted: set[int], found: dict, replace: dict):
    """Run ``model``'s graph again on the symbolic ``inputs``, stepping into nested models; put
    the output of each layer whose id is ``wanted`` into ``found``; call ``replace[id]`` instead."""
    def call(layer, *args, **kwargs):
        if id(layer) in replace:
            out = replace[id(layer)](*args)
        elif isinstance(layer, keras.Model) and any(
                id(inner) in wanted or id(inner) in replace for _, inner in walk(layer)):
            # Step inside: rebuild the nested model on a fresh input, with the wanted inner
            # tensors as extra outputs, and call that probe here.
            inner_input = keras.Input(batch_shape=args[0].shape, dtype=args[0].dtype)
            inner_found: dict = {}
            inner_output = _rebuild(layer, inner_input, wanted, inner_found, replace)
            keys = list(inner_found)
            results = keras.Model(inner_input, [inner_output] + [inner_found[k] for k in keys],
                                  name=f"{layer.name}_probe")(args[0])
            out = results[0]
            found.update((key, result) for key, result in zip(keys, results[1:]) if key not in found)
        else:
            out = layer(*args, **kwargs)
        if id(layer) in wanted:
            found.setdefault(id(layer), out)
        return out

    if isinstance(model, keras.Sequential):  # a chain: each layer called on the last output
        return functools.reduce(lambda x, layer: call(layer, x), model.layers, inputs)
    try:
        clone = keras.models.clone_model(
            model, input_tensors=[inputs] if isinstance(model.input, (list, tuple)) else inputs,
            clone_function=lambda layer: layer, call_function=call)
    except ValueError as error:
        raise ValueError(f"cannot look inside model {model.name!r} ({type(model).__name__}): only "
                         f"Sequential and Functional models can be taken apart ({error})") from error
    return clone.output
