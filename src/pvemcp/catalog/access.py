"""Access control: users, groups, roles, realms, ACL entries, API tokens and effective permissions.

Creating users and tokens and changing ACLs hands out ways in and rights: all of them confirm.
"""

from pvemcp.catalog.spec import Module, Param, Rest, Tier, ToolSpec, reader

USERID = Param("userid", "string", "User with realm, e.g. alice@pve.", required=True)
TOKENID = Param("tokenid", "string", "Token name, e.g. ci (letters, digits, . - _).", required=True)
EXPIRE = Param("expire", "integer", "Expiry as Unix time; 0 = never.", minimum=0)
COMMENT = Param("comment", "string", "Free-text comment.", free_text=True)
USER_FIELDS = (
    Param("email", "string", "E-mail address.", free_text=True),
    Param("firstname", "string", "First name.", free_text=True),
    Param("lastname", "string", "Last name.", free_text=True),
    Param("groups", "string", "Comma-separated group IDs."),
    EXPIRE,
    Param("enable", "boolean", "false: the account cannot log in."),
    COMMENT,
)


_read = reader("access", Module.ADVANCED)


TOOLS = (
    _read(
        "pve_list_users",
        "List users",
        "Users with realm, enabled, expiry, name, e-mail, groups and their API tokens (no secrets).",
        "/access/users",
        Param("enabled", "boolean", "true: only enabled users; false: only disabled."),
        fixed={"full": 1},
        differs="Includes each user's groups and API tokens (full=1) and can filter on enabled.",
    ),
    _read(
        "pve_list_roles",
        "List roles",
        "Roles with their privileges; special=1 marks built-in ones (Administrator, PVEAdmin, PVEVMUser...).",
        "/access/roles",
    ),
    _read("pve_list_groups", "List groups", "User groups with their members and comment.", "/access/groups"),
    _read(
        "pve_list_acls",
        "List ACL entries",
        "Who holds which role where: path, user/group/token, role, propagate. For a subject's rights use"
        " pve_get_permissions.",
        "/access/acl",
    ),
    _read(
        "pve_list_domains",
        "List realms",
        "Authentication realms (pam, pve, LDAP, AD, OpenID) with type and comment.",
        "/access/domains",
    ),
    _read(
        "pve_list_api_tokens",
        "List API tokens",
        "A user's API tokens: name, privilege separation, expiry, comment. Secrets are never shown.",
        "/access/users/{userid}/token",
        USERID,
    ),
    _read(
        "pve_get_permissions",
        "Effective permissions",
        "Privileges per path that a user or token really has after ACLs, groups and pools; default: pvemcp's"
        " own token.",
        "/access/permissions",
        Param("userid", "string", "User or token (user@realm!name); default: pvemcp's."),
        Param("path", "string", "Only this path, e.g. /vms/100.", free_text=True),
    ),
    ToolSpec(
        name="pve_create_user",
        cluster_wide=True,
        category="access",
        tier=Tier.FULL,
        title="Create user",
        description="Create a user account, optionally in groups. Grant rights separately with pve_update_acl.",
        target=Rest("POST", "/access/users"),
        params=(
            USERID,
            Param("password", "string", "Initial password, 8-64 chars (pve realm).", free_text=True, secret=True),
            *USER_FIELDS,
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        differs="Asks for confirmation (a new account is a new way in) and takes names, groups, expiry, enable"
        " and comment besides e-mail and password.",
    ),
    ToolSpec(
        name="pve_update_user",
        cluster_wide=True,
        category="access",
        tier=Tier.FULL,
        title="Update user",
        description="Change a user's details, groups, expiry or enabled state; unnamed settings stay.",
        target=Rest("PUT", "/access/users/{userid}"),
        params=(USERID, *USER_FIELDS, Param("append", "boolean", "Add groups instead of replacing them.")),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=("email", "firstname", "lastname", "groups", "expire", "enable", "comment"),
        differs="Also sets names, groups (replace or append), expiry and comment; nandi only e-mail and enable.",
    ),
    ToolSpec(
        name="pve_delete_user",
        cluster_wide=True,
        category="access",
        tier=Tier.FULL,
        title="Delete user",
        description="Delete a user with its API tokens and ACL entries; its sessions and tokens stop working.",
        target=Rest("DELETE", "/access/users/{userid}"),
        params=(USERID,),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
    ),
    ToolSpec(
        name="pve_update_acl",
        category="access",
        tier=Tier.FULL,
        title="Grant or revoke roles",
        description="Give roles on a path to users, groups or API tokens, or take them away with delete=true.",
        target=Rest("PUT", "/access/acl"),
        params=(
            Param(
                "path",
                "string",
                "ACL path, e.g. /, /vms/100, /storage/local, /pool/prod.",
                required=True,
                free_text=True,
            ),
            Param("roles", "string", "Comma-separated role IDs, e.g. PVEVMUser.", required=True),
            Param("users", "string", "Comma-separated user IDs."),
            Param("groups", "string", "Comma-separated group IDs."),
            Param("tokens", "string", "Comma-separated token IDs, e.g. ci@pve!deploy."),
            Param("propagate", "boolean", "Apply to sub-paths too (default true)."),
            Param("delete", "boolean", "Remove these entries instead of adding them."),
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=("users", "groups", "tokens"),
        differs="Can grant to API tokens (tokens); needs at least one of users, groups, tokens, where nandi's"
        " guard checked the always-present path and roles.",
    ),
    ToolSpec(
        name="pve_create_api_token",
        cluster_wide=True,
        category="access",
        tier=Tier.FULL,
        title="Create API token",
        description="Create an API token for a user. The result holds the secret (value) once; it cannot be read"
        " again, so hand it to the user.",
        target=Rest("POST", "/access/users/{userid}/token/{tokenid}"),
        params=(
            USERID,
            TOKENID,
            Param("privsep", "boolean", "Token gets only ACLs granted to it (default true)."),
            Param("expire", "integer", "Expiry as Unix time; 0 = never; default: the user's.", minimum=0),
            COMMENT,
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        differs="Asks for confirmation (a token is a new credential) and takes a comment.",
    ),
    ToolSpec(
        name="pve_delete_api_token",
        cluster_wide=True,
        category="access",
        tier=Tier.FULL,
        title="Delete API token",
        description="Revoke a user's API token and its ACL entries; clients using it are refused at once.",
        target=Rest("DELETE", "/access/users/{userid}/token/{tokenid}"),
        params=(USERID, TOKENID),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
    ),
)
