# Credential sources that keep no long-lived secret in the database: the
# Alibaba ECS RAM role (metadata service, hardened mode), STS AssumeRole
# (from an access key or from the RAM role), the Huawei ECS agency and IAM
# assume_role (from a password, AK/SK or a token).  Each end to end over
# HTTPS; temporary credentials expiring in the middle of a 1,000-call drain
# (no call fails, one refresh per expiry); a rejected credential refreshed
# once; sources down or answering garbage (28000, nothing sent); and the
# temporary secrets nowhere (gw_audit, errors, the debug5 log).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('creds', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";
my $role = 'acs:ram::1234567890123456:role/gwresize-resizer';
my $ext_role = 'acs:ram::1234567890123456:role/gwresize-external';

sub set_metadata { metadata_urls($node, @_) }
set_metadata($ep, $ep);

# no tracking polls: what a test counts is its own calls
my $common = "endpoint '$ep', max_retries '1', read_before_resize 'false', poll_interval_ms '3600000'";
$node->safe_psql(
	'postgres', qq{
CREATE SERVER ali_role FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role OPTIONS (ram_role_name 'gwresize-ecs-role');
CREATE SERVER ali_sts FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_sts OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret', role_arn '$role', role_session_name 'gwtest', duration_seconds '900');
CREATE SERVER ali_sts_rpc FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', signature 'hmac-sha1', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_sts_rpc OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret', role_arn '$role');
CREATE SERVER ali_role_sts FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role_sts OPTIONS (ram_role_name 'gwresize-ecs-role', role_arn '$ext_role', external_id 'ext-0001');
CREATE SERVER hw_agency FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency OPTIONS (ecs_agency 'true');
CREATE SERVER hw_assume FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_assume OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain', agency_domain_name 'otherdomain', agency_name 'gwresize_agency');
CREATE SERVER hw_assume_aksk FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_assume_aksk OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001', agency_domain_name 'otherdomain', agency_name 'gwresize_agency', duration_seconds '900');
CREATE SERVER hw_assume_tok FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_assume_tok OPTIONS (auth_token 'hw-static-token-0001', agency_domain_name 'otherdomain', agency_name 'gwresize_agency');
});
$node->append_conf('postgresql.conf', "log_min_messages = debug5\n");
$node->reload;
my $log_start = -s $node->logfile;

sub ali { my ($i, $s) = @_; "SELECT status || '|' || coalesce(error_code, '') FROM gw_modify_spec('$i', 'api.s1.medium', server => '$s')" }
sub hw { my ($i, $s) = @_; "SELECT status || '|' || coalesce(error_code, '') FROM gw_resize('$i', 'PROFESSIONAL', server => '$s')" }

# the access keys the mock saw on the calls for instance i
sub aks
{
	my ($i) = @_;
	return [ map { $_->{ak} // 'none' } @{ mock_call($mock, 'GET', "requests?instance_id=$i") } ];
}

sub issued { mock_call($mock, 'GET', 'credentials')->{issued} }

# -- each source end to end: the call is signed with temporary credentials,
#    and the second call reuses them
my %cases = (
	ali_role => [ \&ali, { aliyun_metadata => 1 } ],
	ali_sts => [ \&ali, { sts => 1 } ],
	ali_sts_rpc => [ \&ali, { sts => 1 } ],
	ali_role_sts => [ \&ali, { aliyun_metadata => 1, sts => 1 } ],
	hw_agency => [ \&hw, { huawei_metadata => 1 } ],
	hw_assume => [ \&hw, { iam => 1 } ],
	hw_assume_aksk => [ \&hw, { iam => 1 } ],
	hw_assume_tok => [ \&hw, { iam => 1 } ],);
for my $srv (sort keys %cases)
{
	my ($call, $want) = @{ $cases{$srv} };
	my $before = issued();
	is($node->safe_psql('postgres', $call->("$srv-1", $srv)), 'accepted|', "$srv: accepted");
	is($node->safe_psql('postgres', $call->("$srv-2", $srv)), 'accepted|', "$srv: a second call accepted");
	my $after = issued();
	my %delta = map { $_ => $after->{$_} - $before->{$_} } keys %$after;
	is_deeply(\%delta, { aliyun_metadata => 0, huawei_metadata => 0, sts => 0, iam => 0, %$want },
		"$srv: one set of temporary credentials served both calls");
	my @ak = (@{ aks("$srv-1") }, @{ aks("$srv-2") });
	ok(@ak == 2 && $ak[0] eq $ak[1] && $ak[0] !~ /^(testAccessKeyId|HWTESTAK0001|none)$/,
		"$srv: both calls signed with the temporary access key");
}
is(mock_count($mock, provider => 'aliyun_metadata', action => 'api_token', status => 200), 2,
	'the RAM role is read in hardened mode: a session token first');
is(mock_count($mock, provider => 'iam', action => 'token'), 1, 'hw_assume: one IAM token for its password');
is(mock_count($mock, provider => 'huawei_metadata', action => 'api_token', status => 200), 1,
	'the ECS agency is read with a metadata session token, as the SDKs do');

# a Huawei metadata service without session tokens (404) is read without one
$node->safe_psql('postgres', qq{
CREATE SERVER hw_agency_v1 FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency_v1 OPTIONS (ecs_agency 'true');
});
mock_call($mock, 'POST', 'faults', { provider => 'huawei_metadata', action => 'api_token', kind => 'status', status => 404 });
is($node->safe_psql('postgres', hw('v1-h', 'hw_agency_v1')), 'accepted|', 'huawei metadata without session tokens: accepted');
is(mock_count($mock, provider => 'huawei_metadata', action => 'securitykey'), 2, '... read without a token');

# -- the provider rejects a credential that expired early: one refresh, and
#    the call goes through
my $before = issued();
mock_call($mock, 'POST', 'expire_credentials');
is($node->safe_psql('postgres', ali('exp-a', 'ali_role')), 'accepted|', 'aliyun: expired credentials refreshed once');
is($node->safe_psql('postgres', hw('exp-h', 'hw_assume_aksk')), 'accepted|', 'huawei: expired credentials refreshed once');
is(issued()->{aliyun_metadata} - $before->{aliyun_metadata}, 1, 'one new set from the metadata service');
is(issued()->{iam} - $before->{iam}, 1, 'one new set from assume_role');
is(scalar @{ aks('exp-a') }, 2, 'the call was sent twice: rejected, then with the new set');

# -- the same when what the provider rejects is the read before the change
$node->safe_psql('postgres', qq{
CREATE SERVER ali_role_read FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', max_retries '1', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role_read OPTIONS (ram_role_name 'gwresize-ecs-role');
CREATE SERVER hw_agency_read FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', max_retries '1', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency_read OPTIONS (ecs_agency 'true');
});
is($node->safe_psql('postgres', ali('read-a0', 'ali_role_read') . '; ' . hw('read-h0', 'hw_agency_read')),
	"accepted|\naccepted|", 'servers that read the instance first: accepted');
$before = issued();
mock_call($mock, 'POST', 'expire_credentials');
is($node->safe_psql('postgres', ali('read-a1', 'ali_role_read')), 'accepted|',
	'aliyun: a read rejected for expired credentials refreshes them once');
is($node->safe_psql('postgres', hw('read-h1', 'hw_agency_read')), 'accepted|',
	'huawei: a read rejected for expired credentials refreshes them once');
is(issued()->{aliyun_metadata} - $before->{aliyun_metadata}, 1, '... one new set from the RAM role');
is(issued()->{huawei_metadata} - $before->{huawei_metadata}, 1, '... one new set from the ECS agency');
is(mock_count($mock, instance_id => 'read-a1', action => 'DescribeInstances'), 2,
	'... the read was sent again with the new set');
is(mock_count($mock, instance_id => 'read-h1', action => 'show'), 2,
	'... both reads');

# -- sources down or answering garbage: 28000, nothing sent
sub sqlstate_of
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$out, stderr => \$err);
	return $err;
}
mock_call($mock, 'POST', 'faults', { provider => 'aliyun_metadata', action => 'ram_credentials', kind => 'malformed', count => -1 });
# another server and role, so that no set is cached
$node->safe_psql('postgres', qq{
CREATE SERVER ali_role2 FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role2 OPTIONS (ram_role_name 'gwresize-ecs-role');
CREATE SERVER hw_agency2 FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency2 OPTIONS (ecs_agency 'true');
CREATE SERVER ali_sts_bad FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_sts_bad OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret', role_arn 'acs:ram::1234567890123456:role/nosuchrole');
});
my $err = sqlstate_of(ali('garbage-a', 'ali_role2'));
# errors, logs and gw_audit are matched with ok(=~), not like(): a failure
# must not print what may hold a secret
ok($err =~ /ERROR:  28000: could not obtain credentials for the resize of instance "garbage-a"/, 'metadata garbage: 28000');
ok($err =~ /the ECS RAM role "gwresize-ecs-role" \(metadata service \Q$ep\E\)/, '... naming the source');
is(mock_count($mock, instance_id => 'garbage-a'), 0, '... and nothing was sent');
mock_call($mock, 'DELETE', 'faults');

mock_call($mock, 'POST', 'faults', { provider => 'huawei_metadata', kind => 'status', status => 500, count => -1 });
my $md0 = mock_count($mock, provider => 'huawei_metadata');
$err = sqlstate_of(hw('down-h', 'hw_agency2'));
ok($err =~ /ERROR:  28000: could not obtain credentials.*the ECS agency/s, 'huawei metadata answering 500: 28000');
is(mock_count($mock, provider => 'huawei_metadata') - $md0, 2, '... after max_retries + 1 attempts');
is(mock_count($mock, instance_id => 'down-h'), 0, '... nothing sent');
mock_call($mock, 'DELETE', 'faults');

$err = sqlstate_of(ali('norole-a', 'ali_sts_bad'));
ok($err =~ /ERROR:  28000: .*STS AssumeRole of "acs:ram::1234567890123456:role\/nosuchrole".*EntityNotExist\.Role/s,
	'a role that does not exist: 28000 with STS\'s code');
is(mock_count($mock, instance_id => 'norole-a'), 0, '... nothing sent');
is($node->safe_psql('postgres', "SELECT failure_class FROM gw_history WHERE instance_id = 'norole-a'"),
	'credentials', 'gw_history classes it as credentials');

# hostile answers from a source: the call fails with 28000, nothing is
# sent, and the worker lives on
my $wpid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
for my $h (['nested', { depth => 100000 }], ['huge_fields', { bytes => 900000, status => 200 }],
	['endless', { max_ms => 3000 }], ['bad_utf8', { status => 200 }], ['nul', { status => 200 }],
	['lying_length', {}], ['html', {}])
{
	my ($kind, $extra) = @$h;
	$node->safe_psql('postgres', qq{
CREATE SERVER ali_h_$kind FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', $common, timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_h_$kind OPTIONS (ram_role_name 'gwresize-ecs-role');
});
	mock_call($mock, 'POST', 'faults',
		{ provider => 'aliyun_metadata', action => 'ram_credentials', kind => $kind, count => -1, %$extra });
	ok(sqlstate_of(ali("h-$kind", "ali_h_$kind")) =~ /ERROR:  28000: could not obtain credentials/,
		"metadata answering $kind: 28000");
	is(mock_count($mock, instance_id => "h-$kind"), 0, '... nothing sent');
	mock_call($mock, 'DELETE', 'faults');
}
is($node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
	$wpid, 'the worker survived every hostile source');

# a metadata service that is not there at all
set_metadata('http://127.0.0.1:1', 'http://127.0.0.1:1');
$node->safe_psql('postgres', "ALTER USER MAPPING FOR CURRENT_USER SERVER ali_role2 OPTIONS (SET ram_role_name 'gwresize-ecs-role2')");
$err = sqlstate_of(ali('nomd-a', 'ali_role2'));
ok($err =~ /ERROR:  28000: .*metadata service http:\/\/127\.0\.0\.1:1\).*TransportError/s, 'metadata service down: 28000');
is(mock_count($mock, instance_id => 'nomd-a'), 0, '... nothing sent');
set_metadata($ep, $ep);

# -- a refresh that fails while the set in use is still good: the call goes
#    with that set; once it has expired, calls fail with 28000
$node->safe_psql('postgres', qq{
CREATE SERVER hw_fb FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_fb OPTIONS (ecs_agency 'true');
});
mock_call($mock, 'POST', 'config', { temp_ttl_s => 10 });
my $t_fb = time;
is($node->safe_psql('postgres', hw('fb-1', 'hw_fb')), 'accepted|', 'a set that lives 10 s');
# it is refreshed after 7 to 8 s, and used until 9 s
usleep(int((8.3 - (time - $t_fb)) * 1e6));
mock_call($mock, 'POST', 'faults', { provider => 'huawei_metadata', kind => 'status', status => 500, count => -1 });
my $fb0 = mock_count($mock, provider => 'huawei_metadata', fault => 'status');
is($node->safe_psql('postgres', hw('fb-2', 'hw_fb')), 'accepted|', 'the refresh failed: the call went with the set still good');
ok(mock_count($mock, provider => 'huawei_metadata', fault => 'status') > $fb0, '... after the refresh was tried');
ok(substr(slurp_file($node->logfile), $log_start) =~ /could not refresh the credentials from the ECS agency/,
	'... and the log says so');
usleep(int((10.3 - (time - $t_fb)) * 1e6)) if time - $t_fb < 10.3;
ok(sqlstate_of(hw('fb-3', 'hw_fb')) =~ /ERROR:  28000: could not obtain credentials/, 'once expired: 28000');
mock_call($mock, 'DELETE', 'faults');
mock_call($mock, 'POST', 'config', { temp_ttl_s => 3600 });

# -- credentials expiring in the middle of a 1,000-call drain: no call fails,
#    one refresh per expiry
for my $d ([ 'ali_drain', 'aliyun', 'aliyun_metadata', "ram_role_name 'gwresize-ecs-role', role_arn '$role'", 'sts' ],
	[ 'hw_drain', 'huawei', 'huawei_metadata', "ecs_agency 'true'", undef ])
{
	my ($srv, $prov, $source, $map, $second) = @$d;
	my $extra = $prov eq 'huawei' ? ", project_id 'p1'" : ", sts_endpoint '$ep'";
	$node->safe_psql('postgres', qq{
CREATE SERVER $srv FOREIGN DATA WRAPPER gwresize OPTIONS (provider '$prov', region '@{[ $prov eq 'huawei' ? 'cn-north-4' : 'cn-hangzhou' ]}', endpoint '$ep', read_before_resize 'false', poll_interval_ms '3600000', requests_per_second '150'$extra);
CREATE USER MAPPING FOR CURRENT_USER SERVER $srv OPTIONS ($map);
});
	mock_call($mock, 'POST', 'config', { temp_ttl_s => 3 });
	my $b = issued();
	my $fn = $prov eq 'huawei' ?
	  "gw_resize_async('$srv-' || i, 'PROFESSIONAL', server => '$srv')" :
	  "gw_modify_spec_async('$srv-' || i, 'api.s1.medium', server => '$srv')";
	my $seq0 = mock_call($mock, 'GET', 'stats')->{count};
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT $fn FROM generate_series(1, 1000) i");
	my ($statuses, $done) = drain_statuses($node, $srv, 1000);
	my $secs = $done - $t0;
	mock_call($mock, 'POST', 'config', { temp_ttl_s => 3600 });
	is($statuses, 'accepted', "$srv: all 1,000 calls accepted while their credentials expired");
	my $fetches = issued()->{$source} - $b->{$source};
	# a set lives 2 to 3 s (Alibaba's Expiration is in whole seconds) and is
	# refreshed after 70 to 80% of it
	my $most = int($secs / 1.4) + 2;
	ok($fetches >= 2 && $fetches <= $most,
		sprintf('%s: %d sets in %.1f s (one per expiry: at most %d)', $srv, $fetches, $secs, $most));
	is(issued()->{$second} - $b->{$second}, $fetches, "$srv: each set then assumed the role once") if $second;
	# the drain's own requests
	my @rejected = grep { ($_->{instance_id} // '') =~ /^$srv-/ && ($_->{status} // 0) >= 400 }
	  @{ mock_call($mock, 'GET', "requests?since=$seq0") };
	is(scalar @rejected, 0, "$srv: no call was rejected");
}

# -- the temporary secrets appear nowhere
my $secrets = mock_call($mock, 'GET', 'credentials?reveal=1')->{secrets};
ok(@$secrets > 20, scalar(@$secrets) . ' temporary secrets and tokens issued');
my $audit = $node->safe_psql('postgres', 'SELECT gw_audit::text FROM gw_audit');
my $log = substr(slurp_file($node->logfile), $log_start);
ok($log =~ /credentials from the ECS RAM role/, 'the debug log tells when credentials were obtained');
my ($in_audit, $in_log) = (0, 0);
for my $s (@$secrets)
{
	$in_audit++ if index($audit, $s) >= 0;
	$in_log++ if index($log, $s) >= 0;
}
is($in_audit, 0, 'no temporary secret in gw_audit');
is($in_log, 0, 'no temporary secret in the debug5 log');
ok(($audit . $log) !~ /testAccessKeySecret|hwTestSecretKey0001|testPassword!1|hw-static-token-0001/,
	'nor the mappings\' own secrets');

$node->stop;
done_testing();
