"""Built-in label sets.

ImageNet-1k comes from open_clip's zero-shot metadata (the cleaned class names CLIP's
authors used). open_clip ships no CIFAR-10 or Caltech-101 names, so they live here:
CIFAR-10's ten class names as the dataset defines them, and the 100 object categories
of N-Caltech101 (its folder names without ``BACKGROUND_Google``; N-Caltech101 keeps
``Faces_easy`` and drops Caltech-101's duplicate ``Faces``), made readable: underscores to spaces, plural folder names such as ``airplanes`` singular,
``Faces_easy`` -> ``face``).
"""
from __future__ import annotations

from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

CALTECH101 = (
    "accordion", "airplane", "anchor", "ant", "barrel", "bass", "beaver", "binocular",
    "bonsai", "brain", "brontosaurus", "buddha", "butterfly", "camera", "cannon", "car side",
    "ceiling fan", "cellphone", "chair", "chandelier", "cougar body", "cougar face", "crab",
    "crayfish", "crocodile", "crocodile head", "cup", "dalmatian", "dollar bill", "dolphin",
    "dragonfly", "electric guitar", "elephant", "emu", "euphonium", "ewer", "face", "ferry",
    "flamingo", "flamingo head", "garfield", "gerenuk", "gramophone", "grand piano",
    "hawksbill", "headphone", "hedgehog", "helicopter", "ibis", "inline skate", "joshua tree",
    "kangaroo", "ketch", "lamp", "laptop", "leopard", "llama", "lobster", "lotus", "mandolin",
    "mayfly", "menorah", "metronome", "minaret", "motorbike", "nautilus", "octopus", "okapi",
    "pagoda", "panda", "pigeon", "pizza", "platypus", "pyramid", "revolver", "rhino", "rooster",
    "saxophone", "schooner", "scissors", "scorpion", "sea horse", "snoopy", "soccer ball",
    "stapler", "starfish", "stegosaurus", "stop sign", "strawberry", "sunflower", "tick",
    "trilobite", "umbrella", "watch", "water lilly", "wheelchair", "wild cat", "windsor chair",
    "wrench", "yin yang",
)

BUILTIN_LABEL_SETS: dict[str, tuple[str, ...]] = {
    "imagenet": tuple(IMAGENET_CLASSNAMES),
    "cifar10": CIFAR10,
    "caltech101": CALTECH101,
}
