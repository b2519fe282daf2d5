"""The validated notebook configs (twostep/experiments/configs.py) agree with the notebooks and the
profiles, and a bad value is refused with a message naming the parameter, the value and the rule."""

import ast
import typing

import pydantic
import pytest

from twostep.book import notebooks as runner
from twostep.core.checks import ParameterError
from twostep.experiments.configs import (
    CONFIGS,
    ClarinetConfig,
    GridConfig,
    MNISTConfig,
    PCABrainsConfig,
    allowed,
)


def defaults(name):
    return {p: eval(info["default"]) for p, info in runner.notebook_parameters(name).items()}  # noqa: S307 - our notebooks


def type_name(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return type(typing.get_args(annotation)[0]).__name__
    if origin is list:
        return f"list[{type_name(typing.get_args(annotation)[0])}]"
    return annotation.__name__


def test_every_notebook_has_a_config_with_exactly_its_parameters(root):
    assert sorted(CONFIGS) == runner.notebook_names(root)
    for name, config in CONFIGS.items():
        params = runner.notebook_parameters(name, root)
        assert set(params) == set(config.model_fields), name
        for pname, info in params.items():  # the parameters cell's annotation is the config's type
            assert info["inferred_type_name"] == type_name(config.model_fields[pname].annotation), (name, pname)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_config_owns_every_default_and_the_notebook_states_it(name, root):
    """One source per parameter: the config holds each default and its meaning; the notebook's
    parameters cell (which papermill needs as literals) must state exactly those, and a parameter
    that must equal another chapter's takes its default from that chapter's config (``as_in``)."""
    config = CONFIGS[name]
    for pname, info in runner.notebook_parameters(name, root).items():
        field = config.model_fields[pname]
        assert not field.is_required(), f"{name}.{pname} has no default in {config.__name__}"
        assert ast.literal_eval(info["default"]) == field.default, (
            f"{name}: the parameters cell says {pname} = {info['default']}, {config.__name__} says {field.default!r}")
        assert info["help"].strip() == field.description, f"{name}.{pname}: the cell's comment is not the config's description"
    assert config().model_dump() == config.validated({}).model_dump()  # the defaults are a valid config


def test_chapters_share_a_cached_model_exactly_when_they_hold_equal_configs():
    """A cached model's key is its sub-config's dump: by default the GAN chapter and the prior zoo
    hold the MNIST chapter's VAE config, the zoo the clarinet chapter's audio VAE config and the GAN
    chapter's WGAN-GP config; a changed budget in one chapter is another model."""
    from twostep.experiments.cache import config_key

    zoo, clarinet, mnist, gan = (CONFIGS[n]() for n in ("prior_zoo", "clarinet_hmm", "mnist_fid", "gan_prior"))
    assert zoo.vae == gan.vae == mnist.vae
    assert zoo.audio_vae == clarinet.vae and zoo.wgan_prior == gan.wgan_prior
    assert config_key(gan.vae.key(model="mnist_mlp_vae")) == config_key(mnist.vae.key(model="mnist_mlp_vae"))
    longer = CONFIGS["gan_prior"](vae_epochs=mnist.epochs + 1)
    assert longer.vae != mnist.vae
    assert config_key(longer.vae.key(model="mnist_mlp_vae")) != config_key(mnist.vae.key(model="mnist_mlp_vae"))
    other_seed = CONFIGS["clarinet_hmm"](seed=1)
    assert other_seed.vae != zoo.audio_vae and other_seed.vae == CONFIGS["prior_zoo"](seed=1).audio_vae
    assert mnist.vae.model_dump() == {k: getattr(mnist, k) for k in
                                      ("latent_dim", "hidden_dim", "beta", "epochs", "batch_size", "lr", "seed")}


def test_a_cached_model_config_has_no_defaults_and_refuses_unknown_fields():
    from twostep.experiments.configs import MnistVAEConfig

    with pytest.raises(pydantic.ValidationError, match="missing"):
        MnistVAEConfig(latent_dim=20)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        MnistVAEConfig(**CONFIGS["mnist_fid"]().vae.model_dump(), colour="red")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_profile_validates(name, root):
    values = defaults(name)
    config = CONFIGS[name]
    config.validated(values)
    for profile, overrides in runner.load_profiles(root)[name].items():
        cfg = config.validated({**values, **overrides})
        for key, value in overrides.items():
            expected = sorted(set(value)) if key in ("component_counts", "joint_components") else value
            assert getattr(cfg, key) == expected, (profile, key)


def grid(**changes):
    return {**defaults("grid_gmm"), **changes}


@pytest.mark.parametrize("changes,message", [
    ({"epochs": -1}, "epochs=-1 is not allowed: input should be greater than or equal to 0."),
    ({"epochs": 2.5}, "epochs=2.5 is not allowed: input should be a valid integer."),
    ({"epochs": True}, "epochs=True is not allowed: input should be a valid integer."),
    ({"beta": 0.0}, "beta=0.0 is not allowed: input should be greater than 0."),
    ({"beta": float("nan")}, "beta=nan is not allowed: input should be a finite number."),
    ({"covariance_type": "bogus"}, "covariance_type='bogus' is not allowed: input should be 'full', 'diag', 'spherical' or 'tied'."),
    ({"device": "tpu"}, "device='tpu' is not allowed"),
    ({"n_components": 2000}, "n_components=2000 is not allowed: it is more than the 1600 training points"),
])
def test_grid_config_refuses_bad_values_with_their_name_value_and_rule(changes, message):
    with pytest.raises(ParameterError) as err:
        GridConfig.validated(grid(**changes))
    assert message in str(err.value)


def test_every_error_is_reported_at_once_and_unknown_names_are_refused():
    with pytest.raises(ParameterError) as err:
        GridConfig.validated(grid(epochs=-1, n_init=0))
    assert "epochs=-1" in str(err.value) and "n_init=0" in str(err.value)
    with pytest.raises(ParameterError, match="epoch=3 is not allowed: extra inputs are not permitted"):
        GridConfig.validated(grid(epoch=3))
    with pytest.raises(ParameterError, match="the notebook does not define seed"):
        GridConfig.from_notebook({k: v for k, v in grid().items() if k != "seed"})


def test_lists_are_checked_item_by_item_and_normalised():
    values = defaults("mnist_fid")
    with pytest.raises(ParameterError, match=r"component_counts\[1\]=0 is not allowed"):
        MNISTConfig.validated({**values, "component_counts": [10, 0]})
    with pytest.raises(ParameterError, match=r"covariance_types\[0\]='round' is not allowed"):
        MNISTConfig.validated({**values, "covariance_types": ["round"]})
    with pytest.raises(ParameterError, match=r"component_counts=\[\] is not allowed"):
        MNISTConfig.validated({**values, "component_counts": []})
    cfg = MNISTConfig.validated({**values, "component_counts": [50, 10, 10], "joint_components": [],
                                 "joint_converged_components": []})
    assert cfg.component_counts == [10, 50] and cfg.joint_components == []
    with pytest.raises(ParameterError, match=r"joint_converged_components=\[10, 50\] is not allowed: each must be one of "
                                             r"joint_components=\[\]"):
        MNISTConfig.validated({**values, "joint_components": []})
    with pytest.raises(ParameterError, match="joint_max_epochs=5 is not allowed: the run until convergence continues "
                                             "the authors' budget, joint_epochs=10"):
        MNISTConfig.validated({**values, "joint_max_epochs": 5})
    assert MNISTConfig.validated({**values, "joint_max_epochs": 0}).joint_max_epochs == 0  # 0: no such run
    with pytest.raises(ParameterError, match="n_fid_samples=100 is not allowed: it must be at least"):
        MNISTConfig.validated({**values, "n_fid_samples": 100})


def test_checks_across_parameters_and_against_the_data():
    values = defaults("clarinet_hmm")
    with pytest.raises(ParameterError, match="kernel=500 is not allowed: two stride-2 convolutions"):
        ClarinetConfig.validated({**values, "kernel": 500})
    with pytest.raises(ParameterError, match=r"channels=\[1, 2, 3\] is not allowed"):
        ClarinetConfig.validated({**values, "channels": [1, 2, 3]})
    cfg = PCABrainsConfig.validated(defaults("pca_brains"))
    cfg.validate_images(132)
    with pytest.raises(ParameterError, match="pca_components=40 is not allowed: there are 30 images"):
        cfg.validate_images(30)


def test_config_is_frozen_and_allowed_values_are_described():
    cfg = GridConfig.validated(grid())
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        cfg.epochs = 3
    assert allowed(GridConfig, "epochs") == "integer ≥ 0"
    assert allowed(MNISTConfig, "n_train") == "integer from 100 to 60000"
    assert allowed(ClarinetConfig, "channels") == "list of 2, each integer ≥ 1"
    assert allowed(GridConfig, "covariance_type").startswith("one of `'full'`")


def test_mnist_config_says_what_a_run_without_illustrations_leaves_out():
    full = MNISTConfig.validated(defaults("mnist_fid"))
    assert full.swept_covariances == ["diag", "full"] and full.joint_inits == ("two_step", "random")
    lean = MNISTConfig.validated({**defaults("mnist_fid"), "illustrate": False})
    assert lean.swept_covariances == ["diag"] and lean.joint_inits == ("two_step",)
    assert MNISTConfig.validated({**defaults("mnist_fid"), "illustrate": False, "covariance_types": ["full"]}
                                 ).swept_covariances == []
