"""Parameters of the chapter `training` beyond profile, device and seed: domains, the values
of the smoke and paper profiles. The defaults are the chapter's `parameters` cell."""
from avalley.book.chapters import RecipeNames
from avalley.book.domains import Seeds

DOMAINS = {
    "recipe_names": RecipeNames(),
    "seeds": Seeds(),
}
PROFILES = {
    "smoke": {"recipe_names": ["convnet-bn-digits", "mlp-mnist1d-tiny"]},
    "paper": {"recipe_names": ["preresnet164-cifar10", "vgg16-cifar10"]},
}
