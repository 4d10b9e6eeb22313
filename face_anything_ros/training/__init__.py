"""Training the network: trainer, losses, targets, augmentation, replay pool, held-out validation, ship.

Imports the model, core and the generator; nothing in the product imports it.
"""
