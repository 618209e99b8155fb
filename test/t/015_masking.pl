# Secrets masked in every form they take on the wire.  The mock echoes each
# secret a request carried (the signing secret, security tokens, IAM and
# metadata session tokens, passwords, external ids) raw, percent-encoded
# once and twice (either case), and JSON-escaped ("\/", "\u002b", "\u002B"),
# in error messages, codes, request ids, headers and plain-text bodies, and
# with padding that puts a secret across the 1 kB and 200-byte cuts of what
# is kept.  No form of any secret, nor a 12-character prefix of one, is in
# gw_audit, in the server log at debug5, or in any field of any ERROR.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('masking', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";
my $role = 'acs:ram::1234567890123456:role/gwresize-external';
metadata_urls($node, $ep, $ep);

my @static = (
	'echo/Secret+Key=01', 'echo+Token/With=Chars/0123456789abcdef',
	'hw/Echo+Secret=01', 'hw+Echo/Token=0123456789',
	'testPassword!1', 'hw-static-token-0001', 'testAccessKeySecret', 'ext-0001');
my $common = "endpoint '$ep', max_retries '0', read_before_resize 'false', poll_interval_ms '3600000'";
my @servers = (
	# name, provider options, mapping options
	[ 'a_acs3', "provider 'aliyun', region 'cn-hangzhou'",
		"access_key_id 'STS.echoKeyId', access_key_secret '$static[0]', security_token '$static[1]'" ],
	[ 'a_rpc', "provider 'aliyun', region 'cn-hangzhou', signature 'hmac-sha1'",
		"access_key_id 'STS.echoKeyId', access_key_secret '$static[0]', security_token '$static[1]'" ],
	[ 'h_temp', "provider 'huawei', region 'cn-north-4', project_id 'p1'",
		"access_key 'HWECHOAK0001', secret_key '$static[2]', security_token '$static[3]'" ]);
# credential sources: a server per case (a failed source is remembered 2 s)
foreach my $i (1 .. 4)
{
	push @servers, [ "a_sts$i", "provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep'",
		"access_key_id 'testAccessKeyId', access_key_secret '$static[6]', role_arn '$role', external_id '$static[7]'" ];
	push @servers, [ "a_sts_rpc$i", "provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep', signature 'hmac-sha1'",
		"access_key_id 'testAccessKeyId', access_key_secret '$static[6]', role_arn '$role', external_id '$static[7]'" ];
	push @servers, [ "a_role$i", "provider 'aliyun', region 'cn-hangzhou'", "ram_role_name 'gwresize-ecs-role'" ];
	push @servers, [ "h_iam$i", "provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint '$ep'",
		"user_name 'testuser', password '$static[4]', domain_name 'testdomain'" ];
	push @servers, [ "h_assume$i", "provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint '$ep'",
		"auth_token '$static[5]', agency_domain_name 'otherdomain', agency_name 'gwresize_agency'" ];
	push @servers, [ "h_agency$i", "provider 'huawei', region 'cn-north-4', project_id 'p1'", "ecs_agency 'true'" ];
}
# an external id that every Alibaba STS token the mock issues starts with:
# masked first, it would cut the tokens' matches short
push @servers, [ "a_cais$_", "provider 'aliyun', region 'cn-hangzhou', sts_endpoint '$ep'",
	"ram_role_name 'gwresize-ecs-role', role_arn 'acs:ram::1234567890123456:role/gwresize-resizer', external_id 'CAIS'" ]
  for (1, 2);
foreach my $s (@servers)
{
	$node->safe_psql('postgres', qq{
CREATE SERVER $s->[0] FOREIGN DATA WRAPPER gwresize OPTIONS ($s->[1], $common);
CREATE USER MAPPING FOR CURRENT_USER SERVER $s->[0] OPTIONS ($s->[2]);});
}
$node->append_conf('postgresql.conf', "log_min_messages = debug5\nlog_error_verbosity = verbose\n");
$node->reload;
usleep(300_000);
my $log_start = -s $node->logfile;

# one call per case: the echo fault (count 1) answers its first request
my @outputs;
my $n = 0;
sub echo_call
{
	my ($server, $provider, $action, %rule) = @_;
	$n++;
	my $fault = { provider => $provider, kind => 'echo', count => 1, %rule };
	$fault->{action} = $action if $action;
	mock_call($mock, 'POST', 'faults', $fault);
	my $sql = $server =~ /^a_/
	  ? "SELECT status FROM gw_modify_spec('mask-$n', 'api.s1.medium', server => '$server')"
	  : "SELECT status FROM gw_resize('mask-$n', 'PROFESSIONAL', server => '$server')";
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	push @outputs, $out, $err;
	mock_call($mock, 'DELETE', 'faults', undef);
	return $err;
}
# errors, logs and gw_audit are matched with ok(=~), not like(): a failure
# must not print what may hold a secret
my %where = (message => {}, code => { where => 'code' }, request_id => { where => 'request_id' },
	header => { where => 'header' }, text => { where => 'text', pad => 1010 });
foreach my $w (sort keys %where)
{
	ok(echo_call('a_acs3', 'aliyun', 'ModifyInstanceSpec', %{ $where{$w} }) =~ /ERROR/,
		"Alibaba ACS3: the echo in the $w fails the call");
	ok(echo_call('h_temp', 'huawei', 'resize', %{ $where{$w} }) =~ /ERROR/,
		"Huawei AK/SK: the echo in the $w fails the call");
}
echo_call('a_rpc', 'aliyun', 'ModifyInstanceSpec');
echo_call('a_rpc', 'aliyun', 'ModifyInstanceSpec', where => 'text', pad => 1000);
# the credential sources, answering with the echo at each step
my $i = 0;
foreach my $w ([ 'message' ], [ 'text', 1020 ], [ 'text', 190 ], [ 'code' ])
{
	$i++;
	my %r = (where => $w->[0], defined $w->[1] ? (pad => $w->[1]) : ());
	ok(echo_call("a_sts$i", 'sts', 'AssumeRole', %r) =~ /28000/, "STS ($w->[0]): 28000");
	echo_call("a_sts_rpc$i", 'sts', 'AssumeRole', %r);
	ok(echo_call("a_role$i", 'aliyun_metadata', 'ram_credentials', %r) =~ /28000/,
		"ECS RAM role ($w->[0]): 28000");
	echo_call("h_iam$i", 'iam', 'token', %r);
	ok(echo_call("h_assume$i", 'iam', 'assume_role', %r) =~ /28000/, "IAM assume_role ($w->[0]): 28000");
	ok(echo_call("h_agency$i", 'huawei_metadata', 'securitykey', %r) =~ /28000/,
		"ECS agency ($w->[0]): 28000");
}
echo_call('a_cais1', 'sts', 'AssumeRole');
# temporary credentials obtained, then echoed by the gateway
usleep(2_100_000);
echo_call('a_cais2', 'aliyun', 'ModifyInstanceSpec');
foreach my $w (sort keys %where)
{
	echo_call('a_role1', 'aliyun', 'ModifyInstanceSpec', %{ $where{$w} });
	echo_call('a_sts1', 'aliyun', 'ModifyInstanceSpec', %{ $where{$w} });
	echo_call('h_agency1', 'huawei', 'resize', %{ $where{$w} });
	echo_call('h_assume1', 'huawei', 'resize', %{ $where{$w} });
	echo_call('h_iam1', 'huawei', 'resize', %{ $where{$w} });
}
is(mock_count($mock, fault => 'echo'), $n, "each of the $n calls met its echo");

# every secret: the mapping's, and what the mock issued (revealed)
my @secrets = @static;
push @secrets, @{ mock_call($mock, 'GET', 'credentials?reveal=1', undef)->{secrets} };
ok(@secrets > 20, scalar(@secrets) . ' secrets to look for');

sub pct
{
	my ($s, $lower) = @_;
	$s =~ s/([^A-Za-z0-9\-_.~])/$lower ? sprintf('%%%02x', ord($1)) : sprintf('%%%02X', ord($1))/ge;
	return $s;
}
sub forms
{
	my ($s) = @_;
	(my $slash = $s) =~ s{/}{\\/}g;
	(my $u = $s) =~ s/([^A-Za-z0-9])/sprintf('\\u%04x', ord($1))/ge;
	(my $U = $s) =~ s/([^A-Za-z0-9])/sprintf('\\u%04X', ord($1))/ge;
	return ($s, pct($s), pct(pct($s)), pct($s, 1), pct(pct($s, 1), 1), $slash, $u, $U);
}
# the forms' names, in that order, for what a failure reports
my @form_names = ('raw', 'percent-encoded', 'percent-encoded twice', 'percent-encoded (lower case)',
	'percent-encoded twice (lower case)', 'JSON-escaped "\\/"', 'JSON-escaped "\\u00xx"', 'JSON-escaped "\\u00XX"');
# what a reader could decode: JSON escapes and percent escapes, twice
sub decoded
{
	my ($t) = @_;
	for (1 .. 2)
	{
		$t =~ s/\\u00([0-9a-fA-F]{2})/chr(hex($1))/ge;
		$t =~ s{\\/}{/}g;
		$t =~ s/%([0-9a-fA-F]{2})/chr(hex($1))/ge;
	}
	return $t;
}

my %where_seen = (
	'gw_audit' => $node->safe_psql('postgres', 'SELECT t::text FROM gw_audit t'),
	'the server log' => substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $log_start),
	'the errors' => join("\n", @outputs));
ok($where_seen{'the errors'} =~ /DETAIL:/, 'the errors were read with every field');
ok($where_seen{'gw_audit'} =~ /\*\*\*/, 'gw_audit shows what was masked');
ok(length($where_seen{'the server log'}) > 10000, 'debug5 wrote a detailed log');
foreach my $place (sort keys %where_seen)
{
	my $text = $where_seen{$place};
	my $plain = decoded($text);
	my ($forms_found, $prefixes_found, $parts_found) = (0, 0, 0);
	# a secret found is named by its index in @secrets, never by any of its
	# characters
	foreach my $k (0 .. $#secrets)
	{
		my $s = $secrets[$k];
		my $which = "secret #$k (" . ($k < @static ? 'a mapping\'s' : 'issued by the mock') . ')';
		my @f = forms($s);
		foreach my $j (0 .. $#f)
		{
			if (index($text, $f[$j]) >= 0)
			{
				$forms_found++;
				diag("$which is in $place, $form_names[$j]");
			}
		}
		my $prefix = substr($s, 0, 12);
		if (index($plain, $prefix) >= 0)
		{
			$prefixes_found++;
			diag("the first 12 characters of $which are in $place (decoded)");
		}
		# the rest of a long one: 20 characters from its middle and its end
		next if length($s) < 40;
		my $mid = int(length($s) / 2);
		foreach my $at ($mid, length($s) - 20)
		{
			if (index($plain, substr($s, $at, 20)) >= 0)
			{
				$parts_found++;
				diag("the 20 characters at offset $at of $which are in $place (decoded)");
			}
		}
	}
	is($forms_found, 0, "no secret in any of its 8 forms in $place");
	is($prefixes_found, 0, "no secret, nor its first 12 characters, once $place is decoded");
	is($parts_found, 0, "nor 20 characters from the middle or the end of one");
}
ok(decoded(join("\n", values %where_seen)) !~ /MII[A-Za-z0-9+\/_-]{100,}/, 'no IAM token anywhere');
$node->stop;
done_testing();
