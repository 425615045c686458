"""The search index: an OpenSearch Serverless vector collection (default) or a managed domain.

Both expose the same three things to the rest of the stack: ``endpoint`` (an https:// URL for
``KOTAE_OPENSEARCH_ENDPOINT``), ``auth`` (``KOTAE_OPENSEARCH_AUTH``) and ``grant(role, write=)``.
Only ingest writes the index; the bot reads it, so a compromised bot cannot plant or change
knowledge.

Serverless needs three policies besides the collection: encryption (AWS owned key), network
(here the public endpoint: every request is still SigV4-signed and must pass both IAM and the
data-access policy) and data access (which principals may do what to the collection and its
indexes). https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-manage.html
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from .config import KotaeConfig
from .findings import acknowledge, acknowledge_wildcard_resources

# Data-access permissions, from what each principal sends. The operations each permission allows:
# "Supported OpenSearch API operations and permissions", https://docs.aws.amazon.com/opensearch-
# service/latest/developerguide/serverless-genref.html#serverless-operations ; alias permissions
# are on the collection, index and document ones on its indexes ("Policy syntax",
# .../serverless-data-access.html#serverless-data-access-syntax).
#   aoss:ReadDocument      POST <alias>/_search (k-NN, BM25, aggregations of record queries), _count
#   aoss:DescribeIndex     GET <alias>/_mapping (record queries' facet names), HEAD <index>
#   aoss:CreateIndex       PUT <index>;  aoss:UpdateIndex  PUT <index>/_mapping;  aoss:WriteDocument  _bulk
#   aoss:DescribeCollectionItems  HEAD and GET _alias/<alias> (which index the alias points at)
#   aoss:CreateCollectionItems    POST _aliases adding the alias to the first index
#   aoss:UpdateCollectionItems + DeleteCollectionItems  POST _aliases moving it (kotae reindex:
#                                 remove from the old index, add to the new one, in one request)
# The bot only searches and reads the mapping through the alias: no alias operation, so no
# collection permission. Ingest makes <alias>-v1 and the alias at its first cold start.
READ_INDEX_PERMISSIONS = ["aoss:DescribeIndex", "aoss:ReadDocument"]
WRITE_COLLECTION_PERMISSIONS = ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems"]
INDEX_PERMISSIONS = [
    "aoss:CreateIndex",
    "aoss:DescribeIndex",
    "aoss:UpdateIndex",
    "aoss:ReadDocument",
    "aoss:WriteDocument",
]
# Operators running `kotae reindex` / `kotae backfill` (and `kotae search` to check) fill a new
# index and move the alias; they delete old indexes by hand. No mapping change: ingest's.
ADMIN_COLLECTION_PERMISSIONS = [
    *WRITE_COLLECTION_PERMISSIONS,
    "aoss:UpdateCollectionItems",
    "aoss:DeleteCollectionItems",
]
ADMIN_INDEX_PERMISSIONS = [
    "aoss:CreateIndex",
    "aoss:DescribeIndex",
    "aoss:ReadDocument",
    "aoss:WriteDocument",
    "aoss:DeleteIndex",
]
# Signed HTTP methods kotae uses against a managed domain. Readers may POST only to the search
# and count APIs of the alias (IAM matches the request path against the resource).
ES_HTTP_ACTIONS = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]
ES_READ_ACTIONS = ["es:ESHttpGet", "es:ESHttpHead"]
ES_READ_POST_APIS = ("_search", "_count")


class ServerlessSearch(Construct):
    """A VECTORSEARCH collection with its encryption, network and data-access policies."""

    auth = "sigv4-aoss"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KotaeConfig,
        readers: Sequence[iam.IRole],
        writers: Sequence[iam.IRole],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = f"{config.prefix}-knowledge"  # collection and policy names: 3-32 chars
        self.collection_name = name
        collection_rule = {"ResourceType": "collection", "Resource": [f"collection/{name}"]}

        encryption = aoss.CfnSecurityPolicy(
            self,
            "Encryption",
            name=f"{config.prefix}-enc",
            type="encryption",
            policy=stack.to_json_string({"Rules": [collection_rule], "AWSOwnedKey": True}),
        )
        network = aoss.CfnSecurityPolicy(
            self,
            "Network",
            name=f"{config.prefix}-net",
            type="network",
            policy=stack.to_json_string([{"Rules": [collection_rule], "AllowFromPublic": True}]),
        )
        self.collection = aoss.CfnCollection(
            self,
            "Collection",
            name=name,
            type="VECTORSEARCH",
            standby_replicas=config.standby_replicas,
            description="kotae knowledge chunks (BM25 + k-NN)",
        )
        # A collection cannot be created before an encryption policy covers its name.
        self.collection.node.add_dependency(encryption)
        self.collection.node.add_dependency(network)

        index_resource = [f"index/{name}/*"]

        def rule(
            collection: list[str], index: list[str], principals: list[str], description: str
        ) -> dict[str, Any]:
            rules = [{**collection_rule, "Permission": collection}] if collection else []
            rules.append({"ResourceType": "index", "Resource": index_resource, "Permission": index})
            return {"Rules": rules, "Principal": principals, "Description": description}

        rules = [
            rule([], READ_INDEX_PERMISSIONS, [r.role_arn for r in readers], "kotae bot: reads the index"),
            rule(
                WRITE_COLLECTION_PERMISSIONS,
                INDEX_PERMISSIONS,
                [r.role_arn for r in writers],
                "kotae ingest: creates the index and its alias, and writes the index",
            ),
        ]
        if config.search_admin_principals:
            rules.append(
                rule(
                    ADMIN_COLLECTION_PERMISSIONS,
                    ADMIN_INDEX_PERMISSIONS,
                    list(config.search_admin_principals),
                    "operators running kotae backfill / reindex (moves the alias)",
                )
            )
        self.access_policy = aoss.CfnAccessPolicy(
            self, "DataAccess", name=f"{config.prefix}-data", type="data", policy=stack.to_json_string(rules)
        )
        self.endpoint: str = self.collection.attr_collection_endpoint
        self.arn: str = self.collection.attr_arn

    def grant(self, role: iam.Role, *, write: bool) -> None:
        """The IAM side: aoss:APIAccessAll on this collection only. What a role may do to the
        index is the data-access policy's (readers and writers above), not IAM's."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[self.arn]))


class DomainSearch(Construct):
    """A managed OpenSearch domain (``-c kotae:search=domain``), public endpoint, IAM-signed.

    No resource-based access policy: the Lambda roles' identity policies (least-privilege
    es:ESHttp* on this domain) are what allow access, and CDK's access-policy custom resource
    Lambda is avoided. Likewise the error logs' log-group policy is a plain
    AWS::Logs::ResourcePolicy instead of CDK's Lambda-backed one.

    Size: ``kotae:domainDataNodes`` data nodes (default 1) of ``kotae:domainInstanceType``, no
    dedicated master nodes, 20 GB gp3 each. One node lives in one Availability Zone: it is a
    single point of failure, acceptable because the index can be rebuilt from the knowledge
    table (``kotae backfill``). An even count of 2 or more turns on zone awareness and spreads
    the nodes over two AZs (``-c kotae:domainDataNodes=2``); an odd count stays in one AZ.
    """

    auth = "sigv4-es"

    def __init__(self, scope: Construct, construct_id: str, *, config: KotaeConfig) -> None:
        super().__init__(scope, construct_id)
        nodes = config.domain_data_nodes
        zone_aware = nodes >= 2 and nodes % 2 == 0
        self.error_logs, self.log_policy = self._error_logs(config)
        self.domain = opensearch.Domain(
            self,
            "Domain",
            version=opensearch.EngineVersion.OPENSEARCH_2_19,
            capacity=opensearch.CapacityConfig(
                data_nodes=nodes,
                data_node_instance_type=config.domain_instance_type,
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=20, volume_type=ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=zone_aware, availability_zone_count=2)
            if zone_aware
            else opensearch.ZoneAwarenessConfig(enabled=False),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            # Error logs (WARN and above) to CloudWatch; the log-group policy is ours, below.
            logging=opensearch.LoggingOptions(app_log_enabled=True, app_log_group=self.error_logs),
            suppress_logs_resource_policy=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # OpenSearch checks at create and update time that it may write to the group.
        self.domain.node.add_dependency(self.log_policy)
        self._acknowledge(zone_aware)
        self.index = config.opensearch_index
        self.endpoint = "https://" + self.domain.domain_endpoint
        self.arn = self.domain.domain_arn

    def _error_logs(self, config: KotaeConfig) -> tuple[logs.LogGroup, logs.ResourcePolicy]:
        """The error-log group and the resource policy that lets OpenSearch write to it.

        The policy allows the service only for domains of this account and Region (the domain
        cannot be named in it: the domain depends on the policy and has a generated name).
        https://docs.aws.amazon.com/opensearch-service/latest/developerguide/createdomain-configure-slow-logs.html
        """
        stack = Stack.of(self)
        group = logs.LogGroup(self, "ErrorLogs")
        group.node.default_child.retention_in_days = config.log_retention_days  # type: ignore[union-attr]
        policy = logs.ResourcePolicy(
            self,
            "ErrorLogsPolicy",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("es.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group.log_group_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": stack.format_arn(
                                service="es", resource="domain", resource_name="*"
                            )
                        },
                    },
                )
            ],
        )
        return group, policy

    def _acknowledge(self, zone_aware: bool) -> None:
        """The domain's deliberate AwsSolutions findings (see the class doc and infra/README.md)."""
        reasons = {
            "AwsSolutions-OS1": "no VPC, like the Serverless option: the functions need no VPC or NAT "
            "and operators reach the endpoint from a laptop; every request is SigV4-signed",
            "AwsSolutions-OS3": "no IP allow-list: Lambda has no fixed addresses; access is by IAM "
            "identity (es:ESHttp* on this domain) instead",
            "AwsSolutions-OS4": "no dedicated master nodes: kotae's index is small and can be rebuilt "
            "from the knowledge table, which does not justify three more instances",
            "AwsSolutions-OS5": "no anonymous access: the domain has no resource-based policy, so only "
            "IAM principals whose own policy allows es:ESHttp* can call it, with signed requests",
        }
        for kind in ("SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS"):
            reasons[f"AwsSolutions-OS9[LogExport::{kind}]"] = (
                "no slow logs: OpenSearch writes them only once per-index thresholds are set through "
                "its REST API, which kotae does not do; the error logs are published"
            )
        if not zone_aware:
            reasons["AwsSolutions-OS7"] = (
                "one AZ with kotae:domainDataNodes=1 (the default) or an odd count, to keep a small "
                "deployment small; an even count of 2 or more turns zone awareness on"
            )
        for rule, reason in reasons.items():
            acknowledge(self.domain, rule, reason)

    def grant(self, role: iam.Role, *, write: bool) -> None:
        """Writers: every method kotae uses on the domain. Readers: GET/HEAD, and POST only to
        the alias's _search and _count."""
        paths = iam.PolicyStatement(
            actions=ES_HTTP_ACTIONS if write else ES_READ_ACTIONS, resources=[self.arn, f"{self.arn}/*"]
        )
        role.add_to_principal_policy(paths)
        acknowledge_wildcard_resources(
            role,
            paths,
            "'<domain ARN>/*' is every index path of this one domain (es:ESHttp* resources are "
            "request paths); readers get only GET and HEAD there",
        )
        if write:
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["es:ESHttpPost"],
                resources=[f"{self.arn}/{self.index}/{api}" for api in ES_READ_POST_APIS],
            )
        )
