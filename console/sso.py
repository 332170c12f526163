"""Single sign-on for the console: OpenID Connect, authorisation code with PKCE.

The person signs in at their organisation's identity provider; the console reads who
they are from the provider's answer, and what they may do from its claims: a group for
the role (``ehx-screener``, ``ehx-manager``, ``ehx-practitioner``,
``ehx-encompass-officer``, ``ehx-auditor``, ``ehx-dpo``, ``ehx-admin``), one for a
practitioner's view (``ehx-view-schools``) and an organisation claim (``school:103512``).
Their console account is made or brought up to date from those claims at each sign-in;
a disabled account stays disabled, and a built-in account (one with a password) is never
taken over. The built-in accounts remain the fallback.

Authlib builds the PKCE challenge and the tokens; joserfc (Authlib's JOSE library)
checks the ID token's signature, issuer, audience and nonce. Authlib's Starlette client
is not used: it keeps the flow's state in the session cookie, which the console sends
SameSite=Strict, so a provider on another site would come back to a session without
it. The state travels instead in a short-lived signed cookie of its own (SameSite=Lax,
this path only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ehx.consent.recording import SERVING
from ehx.organisations.directory import KIND_OF, parse_ref
from ehx.organisations.people import Account, Role
from ehx.schemas.vocabulary import Recipient

STATE_COOKIE = "ehx_sso"
#: Seconds a person has to finish signing in at the provider.
STATE_SECONDS = 600
ROLES = {
    "ehx-screener": Role.SCREENER,
    "ehx-manager": Role.MANAGER,
    "ehx-practitioner": Role.PRACTITIONER,
    "ehx-auditor": Role.AUDITOR,
    "ehx-dpo": Role.DPO,
    "ehx-encompass-officer": Role.ENCOMPASS_OFFICER,
    "ehx-admin": Role.ADMIN,
}
VIEW_PREFIX = "ehx-view-"


class SignOnRefused(Exception):
    """Why a sign-in through the provider cannot go on, in words for the person."""


def identity(claims: dict[str, Any], groups_claim: str, organisation_claim: str) -> Account:
    """Who the provider says this is, and what they may do (pure): the console account
    their claims describe."""
    username = str(claims.get("preferred_username") or claims.get("sub") or "")
    if not username or len(username) > 64:
        raise SignOnRefused("the identity provider sent no usable name for you")
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    roles = {ROLES[g] for g in groups if g in ROLES}
    if len(roles) != 1:
        raise SignOnRefused(
            "your identity provider gives you "
            + ("no console role" if not roles else "more than one console role")
            + ": ask your administrator for exactly one of "
            + ", ".join(ROLES)
        )
    [role] = roles
    views = {g.removeprefix(VIEW_PREFIX) for g in groups if g.startswith(VIEW_PREFIX)}
    view = None
    if role is Role.PRACTITIONER:
        if len(views) != 1 or not views <= {r.value for r in Recipient}:
            raise SignOnRefused(
                "a practitioner reads one agency's view: ask your administrator for one "
                f"{VIEW_PREFIX}... group (for example {VIEW_PREFIX}schools)"
            )
        view = Recipient(views.pop())
    organisation = None
    named = claims.get(organisation_claim)
    if view in SERVING:
        if not named:
            raise SignOnRefused(
                f"your identity provider did not say which organisation you work for (the "
                f"{organisation_claim!r} claim, for example school:103512): a "
                f"{view.value if view else ''} practitioner reads only about the people "
                "their organisation serves, so you cannot sign in without it; ask your "
                "administrator to add it"
            )
        try:
            kind, organisation = parse_ref(str(named))
        except ValueError as exc:
            raise SignOnRefused(f"the organisation claim is not KIND:CODE: {exc}") from None
        if view is None or KIND_OF[view] is not kind:
            raise SignOnRefused(f"the organisation claim names a {kind.value}, not a {view}")
    return Account(username, role, view, organisation)


@dataclass(frozen=True)
class Provider:
    """One identity provider, as its discovery document describes it."""

    issuer: str
    client_id: str
    client_secret: str
    scope: str

    async def metadata(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
            answer.raise_for_status()
            found: dict[str, Any] = answer.json()
            return found

    def start(self, metadata: dict[str, Any], redirect_uri: str) -> tuple[str, dict[str, str]]:
        """Where to send the person, and what must come back with them (kept signed)."""
        flow = {
            "state": generate_token(32),
            "nonce": generate_token(32),
            "verifier": generate_token(64),
        }
        url = add_params_to_uri(
            metadata["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", self.scope),
                ("state", flow["state"]),
                ("nonce", flow["nonce"]),
                ("code_challenge", create_s256_code_challenge(flow["verifier"])),
                ("code_challenge_method", "S256"),
            ],
        )
        return url, flow

    async def claims(
        self, metadata: dict[str, Any], code: str, flow: dict[str, str], redirect_uri: str
    ) -> dict[str, Any]:
        """The person's claims, from a code the provider gave them: the ID token checked
        (signature, issuer, audience, nonce), then the userinfo answer for that subject."""
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "code_verifier": flow["verifier"],
                },
            )
            if answer.status_code != 200:
                raise SignOnRefused("the identity provider did not confirm your sign-in")
            tokens = answer.json()
            keys = KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())
            try:
                token = jwt.decode(tokens["id_token"], keys)
                jwt.JWTClaimsRegistry(
                    iss={"essential": True, "value": self.issuer},
                    aud={"essential": True, "value": self.client_id},
                    nonce={"essential": True, "value": flow["nonce"]},
                    sub={"essential": True},
                ).validate(token.claims)
            except (JoseError, KeyError, ValueError):
                raise SignOnRefused("the identity provider's answer did not check out") from None
            info = await http.get(
                metadata["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            claims: dict[str, Any] = info.json() if info.status_code == 200 else {}
        if claims.get("sub") != token.claims["sub"]:
            raise SignOnRefused("the identity provider's answer did not check out")
        return claims


def sealer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="ehx-sso-flow")


def opened(sealed: str | None, secret: str) -> dict[str, str]:
    if not sealed:
        raise SignOnRefused("the sign-in took too long or started elsewhere: try again")
    try:
        flow: dict[str, str] = sealer(secret).loads(sealed, max_age=STATE_SECONDS)
    except BadSignature:
        raise SignOnRefused("the sign-in took too long or started elsewhere: try again") from None
    return flow
