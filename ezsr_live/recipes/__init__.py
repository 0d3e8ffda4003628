"""Offline recipes, apart from the live path (nothing in the runtime imports them):

* :mod:`~ezsr_live.recipes.train` - distilling an event encoder (``ezsr train``)
* :mod:`~ezsr_live.recipes.evaluation` - zero-shot evaluation on datasets (``ezsr eval``)
* :mod:`~ezsr_live.recipes.demo` - the build recipe of ``weights/demo/`` (``ezsr demo train``)
"""
