"""README.md's commands and code as printed, among them the install of the wheel into a fresh
virtual environment outside the checkout and the synth of a CDK app of one's own with the construct."""

from __future__ import annotations

from pathlib import Path

from tests.docs import REPO_ROOT, run_page
from tests.support.constants import CODE_ASSET_FOLDERS


def test_every_command_and_program_of_the_readme_runs_as_printed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    failures = run_page(REPO_ROOT / "README.md", home)
    assert not failures, "\n\n".join(failures)
    # The app of one's own was built from the installed wheel, not from this checkout.
    app_env = home / "team-mail" / ".venv"
    installed = list(app_env.glob("lib/python3.*/site-packages/ses_to_connect/handler.py"))
    assert installed, "the README's install did not put ses_to_connect into the app's environment"
    assert not list(app_env.glob("lib/python3.*/site-packages/__editable__*"))
    template = (home / "team-mail" / "cdk.out" / "TeamMail.template.json").read_text(encoding="utf-8")
    assert '"Handler": "ses_to_connect.handler.lambda_handler"' in template
    assets = list((home / "team-mail" / "cdk.out").glob("asset.*/ses_to_connect/handler.py"))
    assert assets, "the function's code asset has no ses_to_connect/handler.py"
    asset = assets[0].parents[1]
    assert (asset / "tnefparse").is_dir() and (asset / "charset_normalizer").is_dir()
    assert sorted(p.name for p in asset.iterdir()) == CODE_ASSET_FOLDERS
