"""Network organisation name → cloud ``host`` and network ``type``.

The bundled and MaxMind ASN data give an organisation name per network and nothing else: no
category, no domain. These small tables turn a name into what the raw export reports. They are
heuristics over names, documented in docs/enrichment.md; each is called once per distinct name
in a batch (see ``enrich``), never per row. Only a MaxMind GeoIP2 Enterprise database
categorises networks itself (``traits.user_type``); where it does, that category is used.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: host value → pattern over autonomous-system organisation names. Anchored where a loose match
#: would catch someone else ("AMAZONIA TELECOMUNICACOES" is a Brazilian ISP, not AWS).
_PROVIDER_NAMES: dict[str, str] = {
    "aws": r"^amazon(-0\d|-aes|-as|-fc)?$|^amazon (data services|technologies|\.com)",
    "gcp": r"^google[- ]cloud|^google-private-cloud$",
    "google": r"^google(-\d+|-it)?$|^google (asia|ireland|singapore|switzerland|llc)",
    "azure": r"^microsoft-corp|^microsoft( corp| limited)?$",
    "oracle": r"^oracle-bmc|^oracle(-\d+|-asnblock-asn| corporation)$",
    "alibaba": r"^alibaba (us technology|cloud)|^hangzhou alibaba advertising|^aliyun",
    "digitalocean": r"^digitalocean",
    "cloudflare": r"^cloudflare",
    "hetzner": r"^hetzner",
    "ovh": r"^ovh\b",
    "linode": r"^linode|^akamai connected cloud",
    "tencent": r"tencent",
    "vultr": r"^vultr|^the constant company",
    "scaleway": r"^scaleway",
    "ibm": r"^softlayer|^ibm-?cloud",
    "huawei": r"^huawei cloud|^huawei clouds",
    "contabo": r"^contabo",
    "leaseweb": r"^leaseweb",
    "ionos": r"^ionos",
}
_PROVIDER_PATTERN = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PROVIDER_NAMES.items()),
    re.IGNORECASE,
)

_HOSTING = re.compile(
    r"hosting|\bhost\b|data ?cent(er|re)|datacenter|\bcloud|\bserver|\bvps\b|\bcolo|dedicated"
    r"|\bcdn\b|\bidc\b|leaseweb|equinix|digital ?realty|\bfastly\b|\bakamai",
    re.IGNORECASE,
)
#: The national research and education networks by the names their autonomous systems carry
#: in the ASN data (which rarely say "JANET" or "DFN"), then what such a name says in words, in
#: either order and in the languages of the larger ones.
_RESEARCH_NETWORKS = (
    r"^jisc services|forschungsnetz|forskningsnet|^renater$|\bgeant\b|internet2|\bcernet\b"
    r"|^belnet$|^arnes$|^canarie-|^cesnet\b|^consortium garr$|^heanet\b|^fondation restena$"
    r"|^esnet(-as|-east|-west)?$|^nordunet$|^sunet(-1)?$|^surf b\.v\.$|^surfnet|^switch$"
    r"|^aconet$|\bjanet\b|\bdfn\b|\brnp\b|\bnren\b"
    r"|(research|academic)[- ](and|&)[- ](educat|research)|educat\w*[- ](and|&)[- ]research"
    r"|ensino e pesquisa|educatie si cercetare|investigacion y (la )?educacion"
)
_EDUCATION = re.compile(
    r"universit|\bcollege\b|\bschool|\bacadem|\.edu\b|\bedu\b|institute of technology"
    r"|polytechn|hochschule|" + _RESEARCH_NETWORKS,
    re.IGNORECASE,
)
_ISP = re.compile(
    r"telecom|telekom|telecomunica|telefonica|telco|communications?\b|\bcommunication"
    r"|broadband|\bcable|\bfib(er|re)|\bmobile|wireless|\bcellular|\bisp\b|internet service"
    r"|\btelenet\b|comcast|charter|verizon|at&t|\batt-"
    r"|vodafone|orange|deutsche telekom|\bbt\b|sky broadband|virgin media|t-mobile|\bkpn\b"
    r"|swisscom|telstra|rogers|\bbell\b|shaw|spectrum|cox-|centurylink|lumen|chinanet"
    r"|china (telecom|unicom|mobile)|reliance jio|bharti|airtel|\bntt\b|\bkddi\b|softbank"
    r"|\bsk broadband\b|korea telecom|\bkt\b|turk telekom|\bvivo\b|\bclaro\b|\boi\b|\btim\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def provider_of(organisation: str) -> str:
    """The cloud provider operating an autonomous system, "" when it is not a known cloud."""
    match = _PROVIDER_PATTERN.search(organisation) if organisation else None
    return match.lastgroup or "" if match else ""


#: MaxMind's ``traits.user_type`` (GeoIP2 Enterprise) → type. Consumer access of any kind
#: (home, mobile, dial-up, an internet café, hotel or airport wifi, an ISP's own routers) is
#: ``isp``; anonymising VPNs and crawlers run in data centres. A value not listed here (MaxMind
#: may add some) falls back to the name heuristic.
USER_TYPES: dict[str, str] = {
    "hosting": "hosting",
    "content_delivery_network": "hosting",
    "consumer_privacy_network": "hosting",
    "search_engine_spider": "hosting",
    "college": "education",
    "school": "education",
    "library": "education",
    "residential": "isp",
    "cellular": "isp",
    "dialup": "isp",
    "cafe": "isp",
    "traveler": "isp",
    "router": "isp",
    "business": "business",
    "government": "business",
    "military": "business",
}


@lru_cache(maxsize=65536)
def network_type(organisation: str, host: str, user_type: str = "") -> str:
    """hosting, education, isp or business; "" when nothing is known about the network.

    Order matters and is part of the heuristic: a known cloud is hosting whatever its name says;
    then MaxMind's own category (``user_type``, see :data:`USER_TYPES`) where there is one; a
    university's network is education even when it says "communications".
    """
    if host:
        return "hosting"
    if user_type in USER_TYPES:
        return USER_TYPES[user_type]
    if not organisation:
        return ""
    if _EDUCATION.search(organisation):
        return "education"
    if _HOSTING.search(organisation):
        return "hosting"
    if _ISP.search(organisation):
        return "isp"
    return "business"
