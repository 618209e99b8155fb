# Secrets never leak: access key secrets, STS tokens, passwords, IAM tokens
# and signatures appear neither in gw_audit nor in the server log, even at
# log_min_messages = debug5, through successes, failures, retries and token
# refreshes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
# PostgreSQL logs statement text itself (log_statement, failing statements):
# the mappings are created with statement logging off, as a DBA would
my $node = new_gw_node('secrets', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";
my %secret = (
	ali_secret => 'testAccessKeySecret',
	sts_secret => 'testStsKeySecret',
	sts_token => 'testStsSecurityToken',
	hw_sk => 'hwTestSecretKey0001',
	hw_temp_sk => 'hwTempSecretKey0001',
	hw_temp_token => 'hwTempSecurityToken0001',
	hw_password => 'testPassword!1',
	hw_static => 'hw-static-token-0001',
	wrong_secret => 'WrongSecretValue123',
	sts_wrong => 'WrongStsSecret456');
$node->safe_psql(
	'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', max_retries '1', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (access_key_id 'testAccessKeyId', access_key_secret '$secret{ali_secret}');
CREATE SERVER ali_rpc FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', signature 'hmac-sha1', max_retries '1', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_rpc OPTIONS (access_key_id 'STS.testStsKeyId', access_key_secret '$secret{sts_secret}', security_token '$secret{sts_token}');
CREATE SERVER ali_bad FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_bad OPTIONS (access_key_id 'testAccessKeyId', access_key_secret '$secret{wrong_secret}');
CREATE SERVER ali_sts_bad FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_sts_bad OPTIONS (access_key_id 'STS.testStsKeyId', access_key_secret '$secret{sts_wrong}', security_token '$secret{sts_token}');
CREATE SERVER hw_aksk FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', max_retries '1', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_aksk OPTIONS (access_key 'HWTESTAK0001', secret_key '$secret{hw_sk}');
CREATE SERVER hw_temp FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_temp OPTIONS (access_key 'HWTEMPAK0001', secret_key '$secret{hw_temp_sk}', security_token '$secret{hw_temp_token}');
CREATE SERVER hw_iam FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', iam_endpoint '$ep', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_iam OPTIONS (user_name 'testuser', password '$secret{hw_password}', domain_name 'testdomain');
CREATE SERVER hw_tok FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_tok OPTIONS (auth_token '$secret{hw_static}');
});
$node->append_conf('postgresql.conf', "log_min_messages = debug5\nlog_error_verbosity = verbose\n");
$node->reload;
my $log_start = -s $node->logfile;

my @calls = (
	q{SELECT gw_modify_spec('s-a1', 'api.s1.medium', server => 'ali')},
	q{SELECT gw_modify_spec('s-a2', 'api.s1.medium', server => 'ali_rpc')},
	q{SELECT gw_modify_spec('s-a3', 'api.s1.medium', server => 'ali_bad')},
	q{SELECT gw_modify_spec('s-a4', 'api.s1.medium', server => 'ali', dry_run => true)},
	# the provider echoes its canonical request, signed STS token and all
	q{SELECT gw_modify_spec('s-a6', 'api.s1.medium', server => 'ali_sts_bad')},
	q{SELECT gw_modify_spec('s-a5', 'api.s1.medium', server => 'ali_rpc', dry_run => true)},
	q{SELECT gw_resize('s-h1', 'PROFESSIONAL', server => 'hw_aksk')},
	q{SELECT gw_resize('s-h2', 'PROFESSIONAL', server => 'hw_temp')},
	q{SELECT gw_resize('s-h3', 'PROFESSIONAL', server => 'hw_iam')},
	q{SELECT gw_resize('s-h4', 'PROFESSIONAL', server => 'hw_tok')},
	q{SELECT gw_resize('s-h6', 'PROFESSIONAL', server => 'hw_iam', dry_run => true)},
	q{SELECT gw_resize('s-h7', 'PROFESSIONAL', server => 'hw_temp', dry_run => true)});
# retries, a refresh and an error answer on the way
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', instance_id => 's-a1', kind => 'throttle', count => 1 },
		{ provider => 'huawei', instance_id => 's-h1', kind => 'status', status => 500, code => 'APIC.9000', count => 1 } ] });
my @outputs;
foreach my $sql (@calls)
{
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	push @outputs, $out, $err;
}
mock_call($mock, 'POST', 'revoke_tokens', {});
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT gw_resize('s-h5', 'PROFESSIONAL', server => 'hw_iam')});
push @outputs, $out, $err;
is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE status IN ('accepted', 'succeeded')"),
	'7', 'the calls went through (the bad-secret ones failed)');
is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE status = 'failed'"),
	'2', 'the bad-secret calls failed');
like($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE instance_id = 's-a6'"),
	qr/x-acs-security-token:\*\*\*/, 'the provider\'s echo of the STS token is masked');

my $audit = $node->safe_psql('postgres', 'SELECT t::text FROM gw_audit t');
my $log = substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $log_start);
my $shown = join("\n", @outputs);
ok(length($log) > 10000, 'debug5 wrote a detailed log');
foreach my $name (sort keys %secret)
{
	my $v = $secret{$name};
	unlike($audit, qr/\Q$v\E/, "$name is not in gw_audit");
	unlike($log, qr/\Q$v\E/, "$name is not in the server log");
	unlike($shown, qr/\Q$v\E/, "$name is not in what the caller saw");
}
# signatures: ACS3/SDK hex signatures, RPC base64 signatures, IAM tokens
foreach my $where ([ 'gw_audit', $audit ], [ 'the server log', $log ], [ 'the output', $shown ])
{
	unlike($where->[1], qr/Signature=[0-9a-f]{64}/, "no header signature in $where->[0]");
	unlike($where->[1], qr/Signature=(?!\*\*\*)[A-Za-z0-9%+\/]{20,}/, "no RPC signature in $where->[0]");
	unlike($where->[1], qr/MII[A-Za-z0-9+\/_-]{100,}/, "no IAM token in $where->[0]");
}
my $requests = $node->safe_psql('postgres', 'SELECT request::text FROM gw_audit');
like($requests, qr/"Authorization": "ACS3-HMAC-SHA256 \*\*\*"/, 'the ACS3 Authorization is shown masked');
like($requests, qr/"Authorization": "SDK-HMAC-SHA256 \*\*\*"/, 'the SDK Authorization is shown masked');
like($requests, qr/"X-Auth-Token": "\*\*\*"/, 'the X-Auth-Token is shown masked');
$node->stop;
done_testing();
