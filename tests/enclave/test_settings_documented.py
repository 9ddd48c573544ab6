"""Every setting is documented in the README's configuration table: an operator must not
have to read the code to find one."""

import re

from enclave.settings import Settings
from tests.support.paths import ROOT

README = ROOT / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    documented = set(re.findall(r"ENCLAVE_[A-Z0-9_]+", README.read_text()))
    missing = [
        f"ENCLAVE_{name.upper()}"
        for name in Settings.model_fields
        if f"ENCLAVE_{name.upper()}" not in documented
    ]
    assert missing == [], f"add to README.md's Configuration table: {missing}"
