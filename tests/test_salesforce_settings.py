"""``[salesforce]`` in pendo-segments.toml and SALESFORCE_* variables: every problem one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError
from pendo_segments.salesforce import load_salesforce_settings
from pendo_segments.salesforce.settings import DEFAULT_FIELDS


def _settings(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text, encoding="utf-8")
    return load_salesforce_settings(load_config(path, env={}), env=env or {}), path


def _problem(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, text, env)
    return str(err.value)


def test_defaults_are_the_seed_fields(tmp_path: Path) -> None:
    settings, path = _settings(tmp_path, "")
    assert settings.fields == {
        "health_score": "Pendo_Health_Score__c",
        "tier": "Pendo_Tier__c",
        "last_login": "Pendo_Last_Login__c",
        "feature_adoption": "Pendo_Feature_Adoption_Rate__c",
        "sessions_30d": "Pendo_Session_Count_30d__c",
        "nps": "Pendo_NPS_Score__c",
        "at_risk": "Pendo_At_Risk__c",
    }
    assert settings.fields == DEFAULT_FIELDS
    assert (settings.bulk_threshold, settings.api_version, settings.tasks) == (2000, "59.0", True)
    assert settings.state_file == tmp_path / "salesforce-state.sqlite"  # beside the config
    with pytest.raises(ConfigError) as err:
        settings.credentials()
    assert str(err.value).startswith("no Salesforce login: set SALESFORCE_SESSION_ID and ")


def test_the_environment_wins_and_secrets_stay_hidden(tmp_path: Path) -> None:
    settings, _ = _settings(
        tmp_path,
        '[salesforce]\nsession_id = "from-file-secret"\ninstance_url = "https://a.my.salesforce.com"\n',
        {"SALESFORCE_SESSION_ID": "from-env-secret"},
    )
    login = settings.credentials()
    assert login.kind == "session" and login.session_id.reveal() == "from-env-secret"
    assert "secret" not in repr(settings) and "secret" not in login.describe()


def test_password_login(tmp_path: Path) -> None:
    env = {
        "SALESFORCE_USERNAME": "ops@example.com",
        "SALESFORCE_PASSWORD": "pw",
        "SALESFORCE_SECURITY_TOKEN": "tok",
        "SALESFORCE_DOMAIN": "test",
    }
    settings, _ = _settings(tmp_path, "", env)
    assert settings.credentials().describe() == "user ops@example.com at test.salesforce.com"


def test_a_half_login_says_what_is_missing(tmp_path: Path) -> None:
    settings, path = _settings(tmp_path, "", {"SALESFORCE_USERNAME": "ops@example.com"})
    with pytest.raises(ConfigError) as err:
        settings.credentials()
    assert str(err.value) == (
        f"{path}: [salesforce] login is incomplete: set SALESFORCE_PASSWORD and "
        "SALESFORCE_SECURITY_TOKEN (or the same keys under [salesforce])"
    )


def test_misspelt_keys_suggest_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / "pendo-segments.toml"
    assert _problem(tmp_path, "[salesforce]\nbulk_treshold = 10\n") == (
        f"{path}: [salesforce].bulk_treshold: unknown key (did you mean 'bulk_threshold'?)"
    )
    assert _problem(tmp_path, '[salesforce.fields]\ntierr = "X__c"\n') == (
        f"{path}: [salesforce.fields].tierr: unknown key (did you mean 'tier'?)"
    )


def test_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "pendo-segments.toml"
    assert _problem(tmp_path, '[salesforce]\ninstance_url = "http://a.my.salesforce.com"\n') == (
        f"{path}: [salesforce].instance_url: must be an https:// URL such as "
        "https://acme.my.salesforce.com, got 'http://a.my.salesforce.com' (the session id "
        "must not travel unencrypted)"
    )
    assert _problem(tmp_path, "[salesforce]\nbulk_threshold = 0\n") == (
        f"{path}: [salesforce].bulk_threshold: must be a whole number >= 1, got 0"
    )
    assert _problem(tmp_path, '[salesforce]\ntasks = "yes"\n') == (
        f"{path}: [salesforce].tasks: must be true or false, got 'yes'"
    )
    assert _problem(tmp_path, '[salesforce.fields]\ntier = "Pendo Tier"\n') == (
        f'{path}: [salesforce.fields].tier: must be a field API name such as "Pendo_Tier__c" '
        "(or \"\" to skip it), got 'Pendo Tier'"
    )
    assert _problem(tmp_path, '[salesforce.fields]\nnps = "Pendo_Tier__c"\n') == (
        f"{path}: [salesforce.fields].nps: 'Pendo_Tier__c' is also the field of tier"
    )
    assert _problem(tmp_path, '[salesforce.owners]\n"Jane" = "jane@example.com"\n') == (
        f'{path}: [salesforce.owners]."Jane": must be a Salesforce User Id (15 or 18 letters '
        "and digits), got 'jane@example.com'"
    )
    assert _problem(tmp_path, '[salesforce]\nfields = "x"\n') == (
        f"{path}: [salesforce].fields: must be a table ([salesforce.fields])"
    )


def test_a_secret_is_never_echoed(tmp_path: Path) -> None:
    message = _problem(tmp_path, "", {"SALESFORCE_PASSWORD": "abc\ndef-secret"})
    assert message == (
        "SALESFORCE_PASSWORD: contains a control character (e.g. a line break); copy it again"
    )


def test_an_empty_field_name_skips_that_field(tmp_path: Path) -> None:
    settings, _ = _settings(tmp_path, '[salesforce.fields]\ntier = ""\nnps = "NPS__c"\n')
    assert "tier" not in settings.fields and settings.fields["nps"] == "NPS__c"


def test_owner_for_falls_back_to_the_default(tmp_path: Path) -> None:
    settings, _ = _settings(
        tmp_path,
        '[salesforce]\ndefault_owner = "0055e000001DEFA"\n'
        '[salesforce.owners]\n"Jane Doe" = "0055e000001JANE"\n',
    )
    assert settings.owner_for(" Jane Doe ") == "0055e000001JANE"
    assert settings.owner_for("Someone") == "0055e000001DEFA"
    assert settings.owner_for(None) == "0055e000001DEFA"
