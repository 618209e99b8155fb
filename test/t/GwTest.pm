# GwTest.pm - shared setup of the gwresize TAP tests: the mock cloud (a real
# HTTP/HTTPS server on 127.0.0.1) and clusters with gwresize preloaded.
package GwTest;

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_mock mock_call mock_count new_gw_node gw_servers);

my $root = $ENV{GW_ROOT} or die "GW_ROOT is not set";
my @mocks;

# start_mock: throwaway certificates and a mock cloud on free ports
sub start_mock
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	system("sh", "$root/test/mock/make-certs.sh", "$dir/certs") == 0
	  or die "make-certs.sh failed";
	my $h = IPC::Run::start(
		[
			'python3', "$root/test/mock/mockcloud.py",
			'--http-port', '0', '--https-port', '0',
			'--cert', "$dir/certs/server.pem", '--key', "$dir/certs/server.key",
			'--port-file', "$dir/ports.json"
		],
		'>', "$dir/mock.log", '2>&1');
	push @mocks, $h;
	for (1 .. 200)
	{
		last if -s "$dir/ports.json";
		usleep(50_000);
	}
	my $ports = decode_json(PostgreSQL::Test::Utils::slurp_file("$dir/ports.json"));
	return {
		http => $ports->{http},
		https => $ports->{https},
		ca => "$dir/certs/ca.pem",
		harness => $h
	};
}

# mock_call(MOCK, METHOD, PATH, BODY): the control API; returns decoded JSON
sub mock_call
{
	my ($mock, $method, $path, $body) = @_;
	my $res = HTTP::Tiny->new(timeout => 10)->request(
		$method,
		"http://127.0.0.1:$mock->{http}/_mock/$path",
		{
			headers => { 'Content-Type' => 'application/json' },
			defined $body ? (content => encode_json($body)) : ()
		});
	die "mock $method $path: $res->{status} $res->{content}"
	  unless $res->{success};
	return decode_json($res->{content} || 'null');
}

# mock_count(MOCK, FILTERS): requests the mock received matching filters
sub mock_count
{
	my ($mock, %f) = @_;
	my $q = join('&', map { "$_=$f{$_}" } sort keys %f);
	return scalar @{ mock_call($mock, 'GET', "requests?$q") };
}

# new_gw_node(NAME, MOCK, EXTRA_CONF): a started cluster with gwresize
# preloaded and created in database postgres
sub new_gw_node
{
	my ($name, $mock, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	# UTF-8 whatever the environment's locale: what providers send is checked
	# against the database encoding
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'gwresize'
gwresize.database_name = 'postgres'
gwresize.allow_http = on
gwresize.ca_file = '$mock->{ca}'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION gwresize');
	return $node;
}

# gw_servers(NODE, MOCK, OPTIONS): servers "ali" and "hw" on the mock's
# HTTPS port with working credentials; OPTIONS are added to both
sub gw_servers
{
	my ($node, $mock, $opts) = @_;
	my $ep = "https://127.0.0.1:$mock->{https}";
	$opts = $opts ? ", $opts" : '';
	$node->safe_psql(
		'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep'$opts);
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint '$ep', iam_endpoint '$ep'$opts);
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
});
}

END
{
	foreach my $h (@mocks)
	{
		$h->signal('TERM') if $h->pumpable;
		eval { $h->finish };
	}
}

1;
