"""Parameters of the chapter `training` beyond profile, device and seed: domains, the values
of the smoke and paper profiles. The defaults are the chapter's `parameters` cell."""
from avalley.book.chapters import RecipeNames
from avalley.book.domains import Seeds
from avalley.book.needs import Network

DOMAINS = {
    "recipe_names": RecipeNames(),
    "seeds": Seeds(),
}
PROFILES = {
    "smoke": {"recipe_names": ["convnet-bn-digits", "mlp-mnist1d-tiny"]},
    "paper": {"recipe_names": ["preresnet164-cifar10", "vgg16-cifar10"]},
}


def needs(p):
    """Every recipe and seed, with and without SWA (the curves and the regime table)."""
    return [Network(name, s, swa) for name in p["recipe_names"] for s in p["seeds"]
            for swa in (True, False)]
