/*
 * tables.c - constant tables for the synthetic population (see tables.h).
 *
 * Sources and assumptions (docs/records.md "Generator model" has the full account):
 *  - surnames: frequencies of the US Census 2010 surname file, in thousands, rounded;
 *    split into a general list and Hispanic and Asian lists so that a state's shares
 *    (Census 2020 Hispanic and Asian percentages, also below) can weight them.
 *  - given names: SSA national baby-name frequencies, grouped in three birth cohorts,
 *    relative weights rounded; Hispanic and Asian given-name lists are our assumption.
 *  - cities and three-digit ZIP prefixes: real places, weights roughly proportional to
 *    population (thousands).
 *  - licence number formats: the published per-state formats (AAMVA / state DMV
 *    descriptions as commonly tabulated for verification software); plates: the style
 *    of each state's current standard passenger issue.
 *  - vehicles: WMIs are real; shares approximate US registrations by model.
 * Everything here is public, aggregate data; no row describes a real person.
 */
#include "gen/tables.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define WL(a) {a, N(a)}

/* ---- surnames ----------------------------------------------------------------------- */
static const struct sl_wname sur_general[] = {
    {"SMITH", 2443}, {"JOHNSON", 1933}, {"WILLIAMS", 1625}, {"BROWN", 1437}, {"JONES", 1425},
    {"MILLER", 1161}, {"DAVIS", 1116}, {"WILSON", 802}, {"ANDERSON", 784}, {"THOMAS", 756},
    {"TAYLOR", 751}, {"MOORE", 724}, {"JACKSON", 708}, {"MARTIN", 703}, {"LEE", 693},
    {"THOMPSON", 665}, {"WHITE", 660}, {"HARRIS", 624}, {"CLARK", 563}, {"LEWIS", 532},
    {"ROBINSON", 530}, {"WALKER", 523}, {"YOUNG", 484}, {"ALLEN", 483}, {"KING", 465},
    {"WRIGHT", 459}, {"SCOTT", 440}, {"HILL", 435}, {"GREEN", 430}, {"ADAMS", 428},
    {"NELSON", 425}, {"BAKER", 420}, {"HALL", 407}, {"CAMPBELL", 386}, {"MITCHELL", 384},
    {"CARTER", 377}, {"ROBERTS", 377}, {"PHILLIPS", 360}, {"EVANS", 355}, {"TURNER", 349},
    {"PARKER", 342}, {"COLLINS", 331}, {"EDWARDS", 330}, {"STEWART", 329}, {"MORRIS", 318},
    {"MURPHY", 308}, {"COOK", 302}, {"ROGERS", 302}, {"MORGAN", 276}, {"COOPER", 270},
    {"PETERSON", 270}, {"BAILEY", 265}, {"REED", 264}, {"KELLY", 260}, {"HOWARD", 254},
    {"COX", 246}, {"WARD", 245}, {"RICHARDSON", 244}, {"WATSON", 242}, {"BROOKS", 240},
    {"WOOD", 238}, {"JAMES", 238}, {"BENNETT", 234}, {"GRAY", 234}, {"HUGHES", 225},
    {"PRICE", 223}, {"SANDERS", 222}, {"MYERS", 219}, {"LONG", 219}, {"ROSS", 218},
    {"FOSTER", 218}, {"POWELL", 208}, {"JENKINS", 208}, {"PERRY", 204}, {"RUSSELL", 203},
    {"SULLIVAN", 203}, {"BELL", 202}, {"COLEMAN", 201}, {"BUTLER", 200}, {"HENDERSON", 199},
    {"BARNES", 197}, {"FISHER", 191}, {"HENRY", 190}, {"GRAHAM", 187}, {"PATTERSON", 187},
    {"SIMMONS", 186}, {"HAMILTON", 183}, {"WALLACE", 180}, {"WASHINGTON", 177}, {"HAYES", 176},
    {"BRYANT", 175}, {"ELLIS", 174}, {"WEST", 172}, {"FORD", 170}, {"MARSHALL", 169},
    {"OWENS", 168}, {"MCDONALD", 166}, {"HARRISON", 165}, {"GIBSON", 163}, {"WELLS", 162},
    {"GRIFFIN", 161}, {"KENNEDY", 160}, {"WAGNER", 158}, {"TUCKER", 155}, {"PORTER", 154},
    {"HUNTER", 153}, {"HICKS", 152}, {"CRAWFORD", 151}, {"BOYD", 150}, {"MASON", 149},
    {"WARREN", 148}, {"DIXON", 147}, {"BURNS", 146}, {"GORDON", 145}, {"SHAW", 144},
    {"HOLMES", 143}, {"RICE", 142}, {"ROBERTSON", 141}, {"HUNT", 140}, {"BLACK", 139},
    {"DANIELS", 138}, {"PALMER", 137}, {"MILLS", 136}, {"NICHOLS", 135}, {"GRANT", 134},
    {"KNIGHT", 133}, {"FERGUSON", 132}, {"STONE", 131}, {"HAWKINS", 130}, {"DUNN", 129},
    {"PERKINS", 128}, {"HUDSON", 127}, {"SPENCER", 126}, {"GARDNER", 125}, {"STEPHENS", 124},
    {"PAYNE", 123}, {"PIERCE", 122}, {"BERRY", 121}, {"MATTHEWS", 120}, {"ARNOLD", 119},
    {"WILLIS", 118}, {"RAY", 117}, {"WATKINS", 116}, {"OLSON", 115}, {"CARROLL", 114},
    {"DUNCAN", 113}, {"SNYDER", 112}, {"HART", 111}, {"CUNNINGHAM", 110}, {"BRADLEY", 109},
    {"LANE", 108}, {"ANDREWS", 107}, {"HARPER", 106}, {"FOX", 105}, {"RILEY", 104},
    {"ARMSTRONG", 103}, {"CARPENTER", 102}, {"WEAVER", 101}, {"GREENE", 100},
    {"LAWRENCE", 99}, {"ELLIOTT", 98}, {"SIMS", 97}, {"AUSTIN", 96}, {"PETERS", 95},
    {"KELLEY", 94}, {"FRANKLIN", 93}, {"LAWSON", 92}, {"FIELDS", 91}, {"RYAN", 90},
    {"SCHMIDT", 89}, {"CARR", 88}, {"JACOBS", 87}, {"REYNOLDS", 86}, {"JOHNSTON", 85},
    {"HANSEN", 84}, {"LARSON", 80}, {"MCCARTHY", 75}, {"SCHULTZ", 72}, {"JENSEN", 70},
    {"ERICKSON", 68}, {"O'BRIEN", 66}, {"O'CONNOR", 60}, {"MUELLER", 50}, {"NOVAK", 40},
    {"KOWALSKI", 35}, {"SMITH-JONES", 5}, {"ST. JOHN", 8}, {"VAN DYKE", 10}, {"MACDONALD", 25},
    {"ABDULLAH", 20}, {"ALI", 45}, {"COHEN", 55}, {"GOLDBERG", 30}, {"ROSSI", 25},
    {"RUSSO", 40}, {"ESPOSITO", 25}, {"BECKER", 50}, {"HOFFMAN", 75}, {"SCHNEIDER", 45},
};

static const struct sl_wname sur_hispanic[] = {
    {"GARCIA", 1166}, {"RODRIGUEZ", 1095}, {"MARTINEZ", 1060}, {"HERNANDEZ", 1043},
    {"LOPEZ", 875}, {"GONZALEZ", 841}, {"PEREZ", 682}, {"SANCHEZ", 613}, {"RAMIREZ", 557},
    {"TORRES", 438}, {"FLORES", 434}, {"RIVERA", 391}, {"GOMEZ", 367}, {"DIAZ", 365},
    {"REYES", 328}, {"MORALES", 313}, {"CRUZ", 280}, {"ORTIZ", 285}, {"GUTIERREZ", 286},
    {"RAMOS", 269}, {"CHAVEZ", 249}, {"ROMERO", 248}, {"JIMENEZ", 236}, {"RUIZ", 235},
    {"ALVAREZ", 233}, {"MENDOZA", 230}, {"CASTILLO", 230}, {"VASQUEZ", 208}, {"MORENO", 207},
    {"HERRERA", 206}, {"MEDINA", 199}, {"AGUILAR", 195}, {"VARGAS", 185}, {"GUZMAN", 175},
    {"MENDEZ", 170}, {"CASTRO", 170}, {"ORTEGA", 165}, {"DELGADO", 160}, {"VEGA", 157},
    {"SOTO", 150}, {"SALAZAR", 147}, {"RIOS", 145}, {"CONTRERAS", 145}, {"ESTRADA", 140},
    {"NUNEZ", 135}, {"GUERRERO", 135}, {"LUNA", 131}, {"JUAREZ", 128}, {"DOMINGUEZ", 127},
    {"SANDOVAL", 125}, {"PENA", 122}, {"CARRILLO", 120}, {"ACOSTA", 118}, {"ROJAS", 115},
    {"SILVA", 114}, {"CORTEZ", 110}, {"NAVARRO", 108}, {"CAMPOS", 105}, {"CABRERA", 103},
    {"VALDEZ", 102}, {"MALDONADO", 100}, {"FUENTES", 97}, {"IBARRA", 95}, {"FIGUEROA", 95},
    {"ESPINOZA", 94}, {"ROSALES", 93}, {"MOLINA", 92}, {"SERRANO", 90}, {"VELASQUEZ", 88},
    {"LARA", 86}, {"AVILA", 86}, {"SANTIAGO", 85}, {"PACHECO", 82}, {"GALLEGOS", 80},
    {"MEJIA", 78}, {"SOLIS", 76}, {"BAUTISTA", 74}, {"VALENZUELA", 70}, {"ZAMORA", 68},
    {"DE LA CRUZ", 65}, {"DE LEON", 62}, {"TREVINO", 60}, {"MARQUEZ", 58}, {"CERVANTES", 55},
    {"VILLARREAL", 55}, {"OCHOA", 52}, {"QUINTERO", 40}, {"GARCIA-LOPEZ", 8},
    {"HERNANDEZ-CRUZ", 6}, {"ARELLANO", 38}, {"BECERRA", 30}, {"ZUNIGA", 36}, {"ESPINOSA", 34},
    {"PADILLA", 70}, {"SALINAS", 60}, {"ROBLES", 62}, {"OROZCO", 40}, {"CORONADO", 26},
};

static const struct sl_wname sur_asian[] = {
    {"NGUYEN", 438}, {"KIM", 185}, {"PATEL", 146}, {"TRAN", 158}, {"CHEN", 129},
    {"WANG", 105}, {"LE", 105}, {"PHAM", 92}, {"SINGH", 92}, {"WONG", 92}, {"PARK", 86},
    {"LI", 82}, {"LIU", 70}, {"CHANG", 75}, {"YANG", 75}, {"HUANG", 68}, {"WU", 65},
    {"LIN", 65}, {"CHAN", 58}, {"HUYNH", 55}, {"ZHANG", 60}, {"LAM", 52}, {"VU", 50},
    {"CHOI", 45}, {"SHAH", 48}, {"KHAN", 50}, {"KUMAR", 40}, {"HO", 44}, {"TRUONG", 40},
    {"DANG", 35}, {"BUI", 32}, {"DO", 32}, {"CHO", 30}, {"KANG", 30}, {"YU", 36},
    {"ZHAO", 22}, {"XU", 22}, {"ZHOU", 20}, {"SUN", 20}, {"HU", 18}, {"GUPTA", 28},
    {"SHARMA", 26}, {"REDDY", 18}, {"DESAI", 15}, {"MEHTA", 14}, {"TANAKA", 14},
    {"NAKAMURA", 14}, {"YAMAMOTO", 13}, {"SATO", 9}, {"LIM", 22}, {"TAN", 20}, {"HOANG", 25},
    {"DUONG", 20}, {"PHAN", 22}, {"VO", 25}, {"SHIN", 22}, {"JUNG", 20}, {"HAN", 22},
    {"YOON", 14}, {"SANTOS", 60}, {"DELA CRUZ", 20}, {"AQUINO", 16}, {"KAUR", 25},
    {"RAHMAN", 15}, {"CHOWDHURY", 10}, {"NAIR", 8}, {"RAO", 12},
};

const struct sl_wlist sl_tab_surnames[SL_ORIGIN_N] = {WL(sur_general), WL(sur_hispanic),
                                                      WL(sur_asian)};

/* Less common surnames of each origin at equal weight: drawn for a share of the
 * Hispanic and Asian drivers (population.c) because the lists above, like any short
 * list, cover less than half of those populations (Census 2010: GARCIA is ~2.3% of
 * Hispanic Americans, NGUYEN ~2.6% of Asian Americans). */
static const struct sl_wname sur_hispanic_more[] = {
    {"ABREGO", 1}, {"ALANIS", 1}, {"ALCALA", 1}, {"ALMANZA", 1}, {"ALVARADO", 1},
    {"ARAGON", 1}, {"ARREDONDO", 1}, {"BARAJAS", 1}, {"BARRAZA", 1}, {"BELTRAN", 1},
    {"BENAVIDES", 1}, {"BENITEZ", 1}, {"BONILLA", 1}, {"BURGOS", 1}, {"CADENA", 1},
    {"CALDERON", 1}, {"CAMACHO", 1}, {"CANTU", 1}, {"CARDENAS", 1}, {"CARRASCO", 1},
    {"CASTANEDA", 1}, {"CEBALLOS", 1}, {"CISNEROS", 1}, {"CORDOVA", 1}, {"CORREA", 1},
    {"DAVILA", 1}, {"ESCOBAR", 1}, {"ESPARZA", 1}, {"FAJARDO", 1}, {"GALINDO", 1},
    {"GALVAN", 1}, {"GAMBOA", 1}, {"GRANADOS", 1}, {"GUERRA", 1}, {"HINOJOSA", 1},
    {"HUERTA", 1}, {"JARAMILLO", 1}, {"LEDESMA", 1}, {"LOZANO", 1}, {"LUCERO", 1},
    {"MACIAS", 1}, {"MADRIGAL", 1}, {"MATA", 1}, {"MEZA", 1}, {"MIRANDA", 1}, {"MONTES", 1},
    {"MONTOYA", 1}, {"MUNOZ", 1}, {"NAVA", 1}, {"OLIVARES", 1}, {"OLVERA", 1}, {"PALACIOS", 1},
    {"PAREDES", 1}, {"PARRA", 1}, {"PINEDA", 1}, {"QUINTANA", 1}, {"QUIROZ", 1}, {"RANGEL", 1},
    {"RENTERIA", 1}, {"SAENZ", 1}, {"SALAS", 1}, {"SEPULVEDA", 1}, {"SOSA", 1}, {"TAPIA", 1},
    {"TOVAR", 1}, {"URIBE", 1}, {"VALADEZ", 1}, {"VALENCIA", 1}, {"VELEZ", 1}, {"VERDUGO", 1},
    {"VILLANUEVA", 1}, {"ZAPATA", 1}, {"ZAVALA", 1},
};
static const struct sl_wname sur_asian_more[] = {
    {"ACHARYA", 1}, {"AGARWAL", 1}, {"BANERJEE", 1}, {"BHATT", 1}, {"CHOPRA", 1}, {"DAS", 1},
    {"GHOSH", 1}, {"IYER", 1}, {"JAIN", 1}, {"JOSHI", 1}, {"KAPOOR", 1}, {"KRISHNAN", 1},
    {"MALHOTRA", 1}, {"MENON", 1}, {"MISHRA", 1}, {"NAIDU", 1}, {"PANDEY", 1}, {"PILLAI", 1},
    {"SAXENA", 1}, {"SETHI", 1}, {"SRINIVASAN", 1}, {"TRIVEDI", 1}, {"VERMA", 1}, {"YADAV", 1},
    {"DIZON", 1}, {"MANALO", 1}, {"PASCUAL", 1}, {"SORIANO", 1}, {"TOLENTINO", 1},
    {"GATCHALIAN", 1}, {"MACARAEG", 1}, {"DIMAANO", 1}, {"MAGBANUA", 1}, {"VANG", 1},
    {"XIONG", 1}, {"THAO", 1}, {"LOR", 1}, {"MOUA", 1}, {"HER", 1}, {"CHHAY", 1}, {"SOK", 1},
    {"PICH", 1}, {"GUO", 1}, {"HE", 1}, {"LUO", 1}, {"ZHENG", 1}, {"LIANG", 1}, {"TANG", 1},
    {"FENG", 1}, {"CAI", 1}, {"DENG", 1}, {"YEH", 1}, {"TSAI", 1}, {"HSU", 1}, {"KWAN", 1},
    {"LEUNG", 1}, {"FONG", 1}, {"CHIU", 1}, {"LAU", 1}, {"YIP", 1}, {"CHEUNG", 1}, {"MAK", 1},
    {"TAM", 1}, {"YI", 1}, {"SONG", 1}, {"HONG", 1}, {"JEON", 1}, {"KO", 1}, {"OH", 1},
    {"SEO", 1}, {"HWANG", 1}, {"AHN", 1}, {"BAEK", 1}, {"NGO", 1}, {"LY", 1}, {"LUONG", 1},
    {"TRINH", 1}, {"MAC", 1}, {"LAI", 1}, {"VUONG", 1}, {"KOBAYASHI", 1}, {"WATANABE", 1},
    {"ITO", 1}, {"SUZUKI", 1}, {"TAKAHASHI", 1}, {"KIMURA", 1}, {"HAYASHI", 1}, {"SHIMIZU", 1},
    {"YAMADA", 1}, {"MORI", 1}, {"INOUE", 1}, {"OKADA", 1}, {"FUJITA", 1}, {"NAKAJIMA", 1},
    {"MATSUMOTO", 1},
};
const struct sl_wlist sl_tab_surnames_more[SL_ORIGIN_N] = {{0, 0}, WL(sur_hispanic_more),
                                                           WL(sur_asian_more)};

/* The long tail: English and northern European toponymic and occupational compounds,
 * so that the commonest names keep near-real frequencies (SMITH ~1%) rather than the
 * inflated share a closed list of a few hundred would give. */
static const struct sl_wname tail_prefix[] = {
    {"ASH", 1}, {"BLACK", 1}, {"BRAD", 1}, {"BRAM", 1}, {"BROOK", 1}, {"CALD", 1},
    {"CRAN", 1}, {"DAL", 1}, {"DUN", 1}, {"EAST", 1}, {"FAIR", 1}, {"FAR", 1},
    {"GAR", 1}, {"HAL", 1}, {"HART", 1}, {"HAY", 1}, {"HOL", 1}, {"KINGS", 1},
    {"LANG", 1}, {"LOCK", 1}, {"MAR", 1}, {"MID", 1}, {"MILL", 1}, {"NEW", 1},
    {"NOR", 1}, {"PEN", 1}, {"RAD", 1}, {"RED", 1}, {"ROCK", 1}, {"SAND", 1},
    {"SHEL", 1}, {"STAN", 1}, {"STOCK", 1}, {"THORN", 1}, {"WAL", 1}, {"WEST", 1},
    {"WHIT", 1}, {"WIN", 1}, {"WOOD", 1}, {"BURK", 1}, {"HEN", 1}, {"LIND", 1},
    {"BERG", 1}, {"ROS", 1}, {"HOLL", 1}, {"ELL", 1}, {"KIR", 1},
};
static const struct sl_wname tail_suffix[] = {
    {"LEY", 3}, {"TON", 3}, {"FIELD", 2}, {"WOOD", 2}, {"WORTH", 1}, {"FORD", 2},
    {"BY", 1}, {"HAM", 2}, {"WELL", 1}, {"MORE", 1}, {"BROOK", 1}, {"STEAD", 1},
    {"WICK", 1}, {"DEN", 1}, {"LAND", 1}, {"MAN", 2}, {"ER", 1}, {"SON", 3},
    {"BURY", 1}, {"RIDGE", 1}, {"STROM", 1}, {"QUIST", 1}, {"BERG", 1}, {"SKI", 1},
};
const struct sl_wlist sl_tab_tail_prefix = WL(tail_prefix);
const struct sl_wlist sl_tab_tail_suffix = WL(tail_suffix);

/* ---- given names ------------------------------------------------------------------- */
static const struct sl_wname m_old[] = {
    {"JAMES", 50}, {"ROBERT", 50}, {"JOHN", 48}, {"WILLIAM", 40}, {"RICHARD", 34},
    {"DAVID", 35}, {"CHARLES", 30}, {"MICHAEL", 30}, {"THOMAS", 28}, {"DONALD", 22},
    {"GEORGE", 18}, {"JOSEPH", 18}, {"RONALD", 18}, {"KENNETH", 16}, {"PAUL", 14},
    {"LARRY", 14}, {"GARY", 14}, {"EDWARD", 12}, {"STEVEN", 12}, {"FRANK", 10},
    {"DANIEL", 10}, {"RAYMOND", 10}, {"DENNIS", 9}, {"MARK", 8}, {"GERALD", 8}, {"JERRY", 8},
    {"WALTER", 7}, {"ROGER", 7}, {"DOUGLAS", 7}, {"HAROLD", 6}, {"CARL", 6}, {"TERRY", 6},
    {"STEPHEN", 6}, {"ANTHONY", 6}, {"HENRY", 5}, {"ARTHUR", 5}, {"PETER", 5}, {"WAYNE", 5},
    {"RALPH", 5}, {"ALBERT", 5}, {"JACK", 5}, {"EUGENE", 5}, {"BRUCE", 5}, {"WILLIE", 5},
    {"TIMOTHY", 5}, {"ROY", 4}, {"LOUIS", 4}, {"RUSSELL", 4}, {"BILLY", 4}, {"BOBBY", 4},
    {"HOWARD", 4}, {"ALAN", 4}, {"FRED", 4}, {"KEITH", 4}, {"JOE", 4}, {"EARL", 3},
    {"CLARENCE", 3}, {"ERNEST", 3}, {"PHILIP", 3}, {"DALE", 3}, {"JIMMY", 3}, {"GLENN", 3},
    {"JEFFREY", 3}, {"CRAIG", 2}, {"RANDY", 2}, {"LEROY", 2}, {"VERNON", 2},
};
static const struct sl_wname m_mid[] = {
    {"MICHAEL", 80}, {"CHRISTOPHER", 55}, {"MATTHEW", 40}, {"DAVID", 40}, {"JAMES", 40},
    {"JOSHUA", 38}, {"JASON", 35}, {"JOHN", 35}, {"ROBERT", 35}, {"DANIEL", 32},
    {"JOSEPH", 28}, {"WILLIAM", 25}, {"ANDREW", 25}, {"BRIAN", 22}, {"RYAN", 22},
    {"JUSTIN", 22}, {"KEVIN", 20}, {"ANTHONY", 20}, {"ERIC", 18}, {"JONATHAN", 18},
    {"NICHOLAS", 18}, {"BRANDON", 18}, {"STEVEN", 15}, {"TIMOTHY", 14}, {"THOMAS", 14},
    {"JEFFREY", 12}, {"RICHARD", 12}, {"SCOTT", 12}, {"ADAM", 12}, {"MARK", 10},
    {"CHARLES", 10}, {"JEREMY", 10}, {"AARON", 10}, {"BENJAMIN", 10}, {"TYLER", 10},
    {"JACOB", 10}, {"KYLE", 9}, {"SEAN", 8}, {"NATHAN", 8}, {"PATRICK", 8}, {"ZACHARY", 8},
    {"TRAVIS", 7}, {"JARED", 6}, {"DUSTIN", 6}, {"COREY", 6}, {"GREGORY", 6}, {"CODY", 6},
    {"CHAD", 5}, {"SHAWN", 5}, {"PAUL", 5}, {"JESSE", 5}, {"MARCUS", 5}, {"DERRICK", 4},
    {"JOEL", 4}, {"BRADLEY", 4}, {"SAMUEL", 4}, {"TRAVON", 2}, {"DEANDRE", 2}, {"DEREK", 4},
};
static const struct sl_wname m_new[] = {
    {"JACOB", 30}, {"MICHAEL", 28}, {"JOSHUA", 24}, {"ETHAN", 22}, {"WILLIAM", 22},
    {"DANIEL", 20}, {"ALEXANDER", 20}, {"MATTHEW", 20}, {"ANTHONY", 18},
    {"CHRISTOPHER", 18}, {"ANDREW", 18}, {"JOSEPH", 16}, {"JAMES", 16}, {"DAVID", 15},
    {"NOAH", 15}, {"TYLER", 14}, {"JAYDEN", 12}, {"LOGAN", 12}, {"NATHAN", 12},
    {"BENJAMIN", 12}, {"NICHOLAS", 12}, {"RYAN", 12}, {"AIDEN", 10}, {"JOHN", 10},
    {"ELIJAH", 10}, {"CHRISTIAN", 10}, {"GABRIEL", 10}, {"SAMUEL", 10}, {"DYLAN", 10},
    {"BRANDON", 10}, {"JONATHAN", 9}, {"CALEB", 9}, {"MASON", 9}, {"AUSTIN", 9},
    {"ZACHARY", 8}, {"JORDAN", 8}, {"ROBERT", 8}, {"EVAN", 7}, {"GAVIN", 6}, {"JACKSON", 6},
    {"ANGEL", 6}, {"ISAAC", 6}, {"JACK", 6}, {"KEVIN", 6}, {"ISAIAH", 6}, {"LUKE", 6},
    {"JUSTIN", 6}, {"HUNTER", 6}, {"LUCAS", 5}, {"AARON", 5}, {"OWEN", 5}, {"LANDON", 4},
    {"CONNOR", 5}, {"CAMERON", 5}, {"ADRIAN", 4}, {"CARTER", 4}, {"LIAM", 4},
};
static const struct sl_wname f_old[] = {
    {"MARY", 60}, {"LINDA", 30}, {"PATRICIA", 28}, {"BARBARA", 25}, {"SUSAN", 22},
    {"KAREN", 18}, {"NANCY", 16}, {"MARGARET", 15}, {"BETTY", 15}, {"ELIZABETH", 15},
    {"DOROTHY", 14}, {"SANDRA", 14}, {"DEBORAH", 14}, {"DONNA", 12}, {"CAROL", 12},
    {"SHARON", 11}, {"HELEN", 10}, {"SHIRLEY", 10}, {"RUTH", 8}, {"LISA", 8}, {"MARIA", 8},
    {"CYNTHIA", 8}, {"BRENDA", 8}, {"KATHLEEN", 8}, {"PAMELA", 8}, {"DEBRA", 8},
    {"JOAN", 7}, {"JANET", 7}, {"CAROLYN", 7}, {"JUDITH", 7}, {"DIANE", 7}, {"VIRGINIA", 6},
    {"MARTHA", 6}, {"JANICE", 6}, {"JUDY", 6}, {"JOYCE", 6}, {"LAURA", 5}, {"JEAN", 5},
    {"CHERYL", 5}, {"ANN", 5}, {"ANNA", 4}, {"CATHERINE", 4}, {"FRANCES", 4}, {"GLORIA", 4},
    {"TERESA", 4}, {"PEGGY", 4}, {"PHYLLIS", 4}, {"MARILYN", 4}, {"BEVERLY", 4},
    {"SARAH", 4}, {"REBECCA", 3}, {"MICHELLE", 3}, {"KIMBERLY", 3}, {"ANGELA", 3},
    {"ROSE", 3}, {"ALICE", 3}, {"NORMA", 3}, {"EVELYN", 3}, {"JO", 2}, {"ELAINE", 2},
};
static const struct sl_wname f_mid[] = {
    {"JENNIFER", 50}, {"JESSICA", 40}, {"ASHLEY", 32}, {"AMANDA", 30}, {"SARAH", 28},
    {"MELISSA", 25}, {"STEPHANIE", 22}, {"NICOLE", 22}, {"ELIZABETH", 18}, {"MICHELLE", 18},
    {"HEATHER", 16}, {"AMY", 15}, {"KIMBERLY", 15}, {"ANGELA", 14}, {"LISA", 12},
    {"REBECCA", 12}, {"EMILY", 12}, {"LAURA", 12}, {"BRITTANY", 12}, {"RACHEL", 10},
    {"CHRISTINA", 10}, {"MEGAN", 10}, {"SAMANTHA", 10}, {"LAUREN", 9}, {"KELLY", 9},
    {"AMBER", 8}, {"ANDREA", 8}, {"DANIELLE", 8}, {"MARY", 8}, {"TIFFANY", 7},
    {"CRYSTAL", 7}, {"ERIN", 7}, {"SHANNON", 6}, {"KATHERINE", 6}, {"CHRISTINE", 6},
    {"MARIA", 6}, {"COURTNEY", 6}, {"APRIL", 5}, {"JULIE", 5}, {"TARA", 4}, {"ERICA", 4},
    {"KATIE", 4}, {"VANESSA", 4}, {"ALICIA", 4}, {"JAMIE", 4}, {"DANA", 3}, {"KRISTEN", 5},
    {"LATOYA", 2}, {"TANYA", 3}, {"MONICA", 4}, {"VERONICA", 3}, {"NATALIE", 4},
};
static const struct sl_wname f_new[] = {
    {"EMILY", 24}, {"MADISON", 18}, {"HANNAH", 18}, {"SARAH", 14}, {"SAMANTHA", 14},
    {"EMMA", 14}, {"ASHLEY", 12}, {"ALEXIS", 12}, {"ELIZABETH", 12}, {"TAYLOR", 12},
    {"ABIGAIL", 12}, {"OLIVIA", 12}, {"JESSICA", 10}, {"ALYSSA", 9}, {"KAYLA", 9},
    {"LAUREN", 8}, {"BRIANNA", 8}, {"ISABELLA", 8}, {"SOPHIA", 8}, {"GRACE", 7},
    {"VICTORIA", 7}, {"ANNA", 7}, {"MEGAN", 6}, {"MORGAN", 6}, {"JASMINE", 6}, {"HALEY", 6},
    {"JULIA", 6}, {"NATALIE", 6}, {"AVA", 6}, {"CHLOE", 6}, {"RACHEL", 5}, {"SYDNEY", 5},
    {"JENNIFER", 5}, {"KAITLYN", 5}, {"NICOLE", 5}, {"KATHERINE", 5}, {"HAILEY", 5},
    {"MIA", 5}, {"DESTINY", 4}, {"AMANDA", 4}, {"MAKAYLA", 4}, {"ALEXANDRA", 4},
    {"GABRIELLA", 4}, {"MACKENZIE", 3}, {"PAIGE", 3}, {"ZOE", 3}, {"ADDISON", 3},
};
const struct sl_wlist sl_tab_given[2][3] = {{WL(m_old), WL(m_mid), WL(m_new)},
                                            {WL(f_old), WL(f_mid), WL(f_new)}};

static const struct sl_wname m_hisp[] = {
    {"JOSE", 40}, {"JUAN", 30}, {"LUIS", 25}, {"CARLOS", 25}, {"JESUS", 18}, {"MIGUEL", 16},
    {"JORGE", 15}, {"ANTONIO", 14}, {"FRANCISCO", 14}, {"ALEJANDRO", 12}, {"MANUEL", 12},
    {"JAVIER", 10}, {"RICARDO", 8}, {"PEDRO", 8}, {"FERNANDO", 8}, {"DANIEL", 8},
    {"EDUARDO", 8}, {"RAFAEL", 7}, {"ROBERTO", 7}, {"ANGEL", 7}, {"MARIO", 6}, {"SERGIO", 6},
    {"RAUL", 6}, {"OSCAR", 6}, {"VICTOR", 6}, {"DIEGO", 6}, {"ADRIAN", 5}, {"HECTOR", 5},
    {"ARMANDO", 4}, {"ENRIQUE", 4}, {"GERARDO", 4}, {"RAMON", 4}, {"ALBERTO", 4},
    {"ANDRES", 3}, {"SANTIAGO", 3}, {"MATEO", 3},
};
static const struct sl_wname f_hisp[] = {
    {"MARIA", 50}, {"ANA", 12}, {"ROSA", 10}, {"GUADALUPE", 8}, {"CARMEN", 8},
    {"VERONICA", 7}, {"GABRIELA", 7}, {"JUANA", 6}, {"ALEJANDRA", 6}, {"DANIELA", 6},
    {"ADRIANA", 6}, {"PATRICIA", 6}, {"MONICA", 6}, {"CLAUDIA", 6}, {"LETICIA", 5},
    {"SANDRA", 5}, {"LAURA", 5}, {"ELIZABETH", 5}, {"YESENIA", 4}, {"MARTHA", 4},
    {"ANGELICA", 4}, {"ISABEL", 4}, {"SOFIA", 4}, {"VALERIA", 4}, {"DIANA", 4},
    {"XIMENA", 3}, {"LUCIA", 3}, {"ELENA", 3}, {"MARISOL", 3}, {"BLANCA", 3},
};
static const struct sl_wname m_asian[] = {
    {"WEI", 5}, {"MINH", 5}, {"TUAN", 4}, {"JUN", 4}, {"HIEU", 3}, {"RAJ", 4}, {"AMIT", 4},
    {"SANJAY", 3}, {"VIKRAM", 2}, {"RAHUL", 3}, {"ANIL", 2}, {"SUNG", 3}, {"JIN", 3},
    {"HYUN", 2}, {"DUC", 3}, {"THANH", 3}, {"KENJI", 2}, {"ARJUN", 2}, {"RAVI", 2},
    {"HAO", 2}, {"YONG", 2},
};
static const struct sl_wname f_asian[] = {
    {"MAI", 5}, {"LAN", 4}, {"LINH", 4}, {"HOA", 3}, {"MEI", 4}, {"YING", 3}, {"XIN", 2},
    {"PRIYA", 4}, {"ANJALI", 2}, {"SUNITA", 2}, {"DIVYA", 2}, {"JI", 2}, {"MIN", 3},
    {"YUMI", 2}, {"HANA", 2}, {"HUONG", 3}, {"THAO", 3}, {"NGOC", 3}, {"SEO", 2},
    {"AKIKO", 1}, {"NEHA", 2},
};
const struct sl_wlist sl_tab_given_hispanic[2] = {WL(m_hisp), WL(f_hisp)};
const struct sl_wlist sl_tab_given_asian[2] = {WL(m_asian), WL(f_asian)};

/* ---- streets ----------------------------------------------------------------------- */
static const struct sl_wname streets[] = {
    {"MAIN", 10}, {"OAK", 8}, {"PINE", 7}, {"MAPLE", 7}, {"CEDAR", 6}, {"ELM", 6},
    {"WASHINGTON", 6}, {"LAKE", 5}, {"HILL", 5}, {"PARK", 6}, {"1ST", 8}, {"2ND", 7},
    {"3RD", 6}, {"4TH", 5}, {"5TH", 5}, {"6TH", 4}, {"7TH", 4}, {"8TH", 4}, {"9TH", 3},
    {"10TH", 3}, {"12TH", 2}, {"15TH", 2}, {"23RD", 1}, {"112TH", 1}, {"VIEW", 2},
    {"WALNUT", 4}, {"SUNSET", 4}, {"LINCOLN", 4}, {"JACKSON", 3}, {"CHURCH", 4},
    {"RIVER", 4}, {"SPRING", 3}, {"MEADOW", 3}, {"FOREST", 3}, {"RIDGE", 3}, {"WILLOW", 3},
    {"CHERRY", 3}, {"MADISON", 3}, {"JEFFERSON", 3}, {"FRANKLIN", 3}, {"HIGHLAND", 3},
    {"LAUREL", 2}, {"DOGWOOD", 2}, {"BIRCH", 2}, {"SPRUCE", 2}, {"ASH", 2}, {"HICKORY", 2},
    {"MILL", 3}, {"VALLEY", 3}, {"COLLEGE", 2}, {"CENTER", 3}, {"BROADWAY", 3},
    {"UNION", 2}, {"ADAMS", 2}, {"MONROE", 2}, {"GRANT", 2}, {"KING", 2}, {"HARBOR", 1},
    {"BAY", 1}, {"CANYON", 1}, {"MESA", 1}, {"MOUNTAIN VIEW", 1}, {"MARTIN LUTHER KING JR", 1},
    {"COUNTY ROAD 12", 1}, {"STATE ROUTE 9", 1}, {"ORCHARD", 2}, {"PROSPECT", 2},
};
static const struct sl_wname street_types[] = {
    {"ST", 30}, {"AVE", 22}, {"RD", 14}, {"DR", 14}, {"LN", 7}, {"BLVD", 3}, {"WAY", 5},
    {"CT", 5}, {"PL", 3}, {"CIR", 2}, {"TER", 1}, {"PKWY", 1},
};
const struct sl_wlist sl_tab_streets = WL(streets);
const struct sl_wlist sl_tab_street_types = WL(street_types);

/* ---- states ------------------------------------------------------------------------ */
#define CITIES(code) static const struct sl_city c_##code[]
CITIES(AL) = {{"BIRMINGHAM", "352", 200}, {"MONTGOMERY", "361", 200}, {"MOBILE", "366", 187},
              {"HUNTSVILLE", "358", 215}, {"TUSCALOOSA", "354", 100}, {"DOTHAN", "363", 70},
              {"AUBURN", "368", 76}};
CITIES(AK) = {{"ANCHORAGE", "995", 291}, {"FAIRBANKS", "997", 32}, {"JUNEAU", "998", 32},
              {"WASILLA", "996", 10}, {"KETCHIKAN", "999", 8}};
CITIES(AZ) = {{"PHOENIX", "850", 1608}, {"TUCSON", "857", 543}, {"MESA", "852", 504},
              {"CHANDLER", "852", 275}, {"SCOTTSDALE", "852", 241}, {"GLENDALE", "853", 248},
              {"FLAGSTAFF", "860", 77}, {"YUMA", "853", 95}, {"PRESCOTT", "863", 45}};
CITIES(AR) = {{"LITTLE ROCK", "722", 202}, {"FORT SMITH", "729", 89},
              {"FAYETTEVILLE", "727", 94}, {"SPRINGDALE", "727", 84}, {"JONESBORO", "724", 78},
              {"PINE BLUFF", "716", 42}};
CITIES(CA) = {{"LOS ANGELES", "900", 3899}, {"SAN DIEGO", "921", 1386},
              {"SAN JOSE", "951", 1013}, {"SAN FRANCISCO", "941", 874}, {"FRESNO", "937", 542},
              {"SACRAMENTO", "958", 524}, {"LONG BEACH", "908", 466}, {"OAKLAND", "946", 440},
              {"BAKERSFIELD", "933", 403}, {"ANAHEIM", "928", 346}, {"RIVERSIDE", "925", 314},
              {"SANTA ANA", "927", 310}, {"STOCKTON", "952", 320}, {"IRVINE", "926", 307},
              {"CHULA VISTA", "919", 275}, {"FREMONT", "945", 230},
              {"SAN BERNARDINO", "924", 222}, {"MODESTO", "953", 218}, {"REDDING", "960", 93},
              {"EUREKA", "955", 27}};
CITIES(CO) = {{"DENVER", "802", 715}, {"COLORADO SPRINGS", "809", 478}, {"AURORA", "800", 386},
              {"FORT COLLINS", "805", 169}, {"LAKEWOOD", "802", 155}, {"PUEBLO", "810", 111},
              {"GRAND JUNCTION", "815", 65}, {"BOULDER", "803", 108}};
CITIES(CT) = {{"BRIDGEPORT", "066", 148}, {"NEW HAVEN", "065", 134}, {"HARTFORD", "061", 121},
              {"STAMFORD", "069", 135}, {"WATERBURY", "067", 114}, {"NORWALK", "068", 91},
              {"DANBURY", "068", 86}, {"NEW LONDON", "063", 27}};
CITIES(DE) = {{"WILMINGTON", "198", 70}, {"DOVER", "199", 39}, {"NEWARK", "197", 30},
              {"MIDDLETOWN", "197", 23}, {"GEORGETOWN", "199", 7}};
CITIES(DC) = {{"WASHINGTON", "200", 690}};
CITIES(FL) = {{"JACKSONVILLE", "322", 950}, {"MIAMI", "331", 442}, {"TAMPA", "336", 385},
              {"ORLANDO", "328", 307}, {"ST PETERSBURG", "337", 258}, {"HIALEAH", "330", 223},
              {"TALLAHASSEE", "323", 196}, {"FORT LAUDERDALE", "333", 182},
              {"PORT ST LUCIE", "349", 204}, {"CAPE CORAL", "339", 194},
              {"PENSACOLA", "325", 54}, {"GAINESVILLE", "326", 141},
              {"WEST PALM BEACH", "334", 117}, {"SARASOTA", "342", 55}};
CITIES(GA) = {{"ATLANTA", "303", 498}, {"AUGUSTA", "309", 202}, {"COLUMBUS", "319", 206},
              {"MACON", "312", 157}, {"SAVANNAH", "314", 147}, {"ATHENS", "306", 127},
              {"MARIETTA", "300", 61}, {"ALBANY", "317", 69}, {"VALDOSTA", "316", 55}};
CITIES(HI) = {{"HONOLULU", "968", 350}, {"HILO", "967", 45}, {"KAILUA", "967", 40},
              {"KAHULUI", "967", 28}, {"LIHUE", "967", 8}, {"PEARL CITY", "967", 45}};
CITIES(ID) = {{"BOISE", "837", 236}, {"MERIDIAN", "836", 117}, {"NAMPA", "836", 100},
              {"IDAHO FALLS", "834", 64}, {"POCATELLO", "832", 56}, {"COEUR D ALENE", "838", 54},
              {"TWIN FALLS", "833", 51}};
CITIES(IL) = {{"CHICAGO", "606", 2746}, {"AURORA", "605", 180}, {"NAPERVILLE", "605", 149},
              {"JOLIET", "604", 150}, {"ROCKFORD", "611", 148}, {"SPRINGFIELD", "627", 114},
              {"PEORIA", "616", 113}, {"ELGIN", "601", 114}, {"CHAMPAIGN", "618", 88},
              {"EVANSTON", "602", 78}, {"CARBONDALE", "629", 22}};
CITIES(IN) = {{"INDIANAPOLIS", "462", 887}, {"FORT WAYNE", "468", 263}, {"EVANSVILLE", "477", 117},
              {"SOUTH BEND", "466", 103}, {"CARMEL", "460", 99}, {"BLOOMINGTON", "474", 79},
              {"GARY", "464", 69}, {"LAFAYETTE", "479", 70}};
CITIES(IA) = {{"DES MOINES", "503", 214}, {"CEDAR RAPIDS", "524", 137}, {"DAVENPORT", "528", 101},
              {"SIOUX CITY", "511", 85}, {"IOWA CITY", "522", 74}, {"WATERLOO", "507", 67},
              {"AMES", "500", 66}};
CITIES(KS) = {{"WICHITA", "672", 397}, {"OVERLAND PARK", "662", 197}, {"KANSAS CITY", "661", 156},
              {"OLATHE", "660", 141}, {"TOPEKA", "666", 126}, {"LAWRENCE", "660", 94},
              {"SALINA", "674", 46}};
CITIES(KY) = {{"LOUISVILLE", "402", 633}, {"LEXINGTON", "405", 322}, {"BOWLING GREEN", "421", 72},
              {"OWENSBORO", "423", 60}, {"COVINGTON", "410", 40}, {"PADUCAH", "420", 27},
              {"FRANKFORT", "406", 28}};
CITIES(LA) = {{"NEW ORLEANS", "701", 384}, {"BATON ROUGE", "708", 227}, {"SHREVEPORT", "711", 187},
              {"LAFAYETTE", "705", 121}, {"LAKE CHARLES", "706", 84}, {"MONROE", "712", 47},
              {"KENNER", "700", 66}};
CITIES(ME) = {{"PORTLAND", "041", 68}, {"LEWISTON", "042", 37}, {"BANGOR", "044", 32},
              {"SOUTH PORTLAND", "041", 26}, {"AUBURN", "042", 24}, {"AUGUSTA", "043", 19}};
CITIES(MD) = {{"BALTIMORE", "212", 585}, {"FREDERICK", "217", 78}, {"ROCKVILLE", "208", 68},
              {"GAITHERSBURG", "208", 69}, {"BOWIE", "207", 58}, {"ANNAPOLIS", "214", 40},
              {"HAGERSTOWN", "217", 43}, {"SALISBURY", "218", 33}, {"SILVER SPRING", "209", 81}};
CITIES(MA) = {{"BOSTON", "021", 675}, {"WORCESTER", "016", 206}, {"SPRINGFIELD", "011", 155},
              {"CAMBRIDGE", "021", 118}, {"LOWELL", "018", 115}, {"BROCKTON", "023", 105},
              {"NEW BEDFORD", "027", 101}, {"QUINCY", "021", 101}, {"PITTSFIELD", "012", 43}};
CITIES(MI) = {{"DETROIT", "482", 639}, {"GRAND RAPIDS", "495", 198}, {"WARREN", "480", 139},
              {"STERLING HEIGHTS", "483", 134}, {"ANN ARBOR", "481", 123}, {"LANSING", "489", 112},
              {"FLINT", "485", 81}, {"KALAMAZOO", "490", 73}, {"TRAVERSE CITY", "496", 15},
              {"MARQUETTE", "498", 20}};
CITIES(MN) = {{"MINNEAPOLIS", "554", 429}, {"ST PAUL", "551", 311}, {"ROCHESTER", "559", 121},
              {"DULUTH", "558", 86}, {"BLOOMINGTON", "554", 89}, {"ST CLOUD", "563", 68},
              {"MANKATO", "560", 44}};
CITIES(MS) = {{"JACKSON", "392", 153}, {"GULFPORT", "395", 72}, {"SOUTHAVEN", "386", 54},
              {"HATTIESBURG", "394", 48}, {"BILOXI", "395", 49}, {"TUPELO", "388", 38},
              {"MERIDIAN", "393", 35}};
CITIES(MO) = {{"KANSAS CITY", "641", 508}, {"ST LOUIS", "631", 301}, {"SPRINGFIELD", "658", 169},
              {"COLUMBIA", "652", 126}, {"INDEPENDENCE", "640", 123}, {"LEES SUMMIT", "640", 101},
              {"ST JOSEPH", "645", 72}, {"JOPLIN", "648", 51}};
CITIES(MT) = {{"BILLINGS", "591", 117}, {"MISSOULA", "598", 73}, {"GREAT FALLS", "594", 60},
              {"BOZEMAN", "597", 53}, {"BUTTE", "597", 34}, {"HELENA", "596", 32},
              {"KALISPELL", "599", 24}};
CITIES(NE) = {{"OMAHA", "681", 486}, {"LINCOLN", "685", 291}, {"BELLEVUE", "681", 64},
              {"GRAND ISLAND", "688", 53}, {"KEARNEY", "688", 33}, {"NORTH PLATTE", "691", 23}};
CITIES(NV) = {{"LAS VEGAS", "891", 641}, {"HENDERSON", "890", 317}, {"RENO", "895", 264},
              {"NORTH LAS VEGAS", "890", 262}, {"SPARKS", "894", 108}, {"CARSON CITY", "897", 58},
              {"ELKO", "898", 20}};
CITIES(NH) = {{"MANCHESTER", "031", 115}, {"NASHUA", "030", 91}, {"CONCORD", "033", 44},
              {"DOVER", "038", 32}, {"ROCHESTER", "038", 32}, {"KEENE", "034", 23},
              {"PORTSMOUTH", "038", 22}};
CITIES(NJ) = {{"NEWARK", "071", 311}, {"JERSEY CITY", "073", 292}, {"PATERSON", "075", 159},
              {"ELIZABETH", "072", 137}, {"EDISON", "088", 107}, {"TRENTON", "086", 90},
              {"CAMDEN", "081", 71}, {"TOMS RIVER", "087", 95}, {"CLIFTON", "070", 90},
              {"ATLANTIC CITY", "084", 38}};
CITIES(NM) = {{"ALBUQUERQUE", "871", 564}, {"LAS CRUCES", "880", 111}, {"RIO RANCHO", "871", 104},
              {"SANTA FE", "875", 88}, {"ROSWELL", "882", 48}, {"FARMINGTON", "874", 46}};
CITIES(NY) = {{"NEW YORK", "100", 1694}, {"BROOKLYN", "112", 2736}, {"BRONX", "104", 1472},
              {"STATEN ISLAND", "103", 495}, {"JAMAICA", "114", 900}, {"FLUSHING", "113", 800},
              {"BUFFALO", "142", 278}, {"ROCHESTER", "146", 211}, {"YONKERS", "107", 211},
              {"SYRACUSE", "132", 148}, {"ALBANY", "122", 99}, {"BINGHAMTON", "139", 47},
              {"HEMPSTEAD", "115", 300}, {"UTICA", "135", 65}};
CITIES(NC) = {{"CHARLOTTE", "282", 875}, {"RALEIGH", "276", 467}, {"GREENSBORO", "274", 299},
              {"DURHAM", "277", 284}, {"WINSTON SALEM", "271", 250}, {"FAYETTEVILLE", "283", 208},
              {"CARY", "275", 175}, {"WILMINGTON", "284", 115}, {"ASHEVILLE", "288", 94}};
CITIES(ND) = {{"FARGO", "581", 126}, {"BISMARCK", "585", 74}, {"GRAND FORKS", "582", 59},
              {"MINOT", "587", 48}, {"WEST FARGO", "580", 38}};
CITIES(OH) = {{"COLUMBUS", "432", 906}, {"CLEVELAND", "441", 373}, {"CINCINNATI", "452", 309},
              {"TOLEDO", "436", 270}, {"AKRON", "443", 190}, {"DAYTON", "454", 137},
              {"YOUNGSTOWN", "445", 60}, {"CANTON", "447", 70}};
CITIES(OK) = {{"OKLAHOMA CITY", "731", 681}, {"TULSA", "741", 413}, {"NORMAN", "730", 128},
              {"BROKEN ARROW", "740", 113}, {"LAWTON", "735", 90}, {"EDMOND", "730", 94},
              {"STILLWATER", "740", 48}};
CITIES(OR) = {{"PORTLAND", "972", 652}, {"SALEM", "973", 175}, {"EUGENE", "974", 176},
              {"GRESHAM", "970", 114}, {"HILLSBORO", "971", 106}, {"BEND", "977", 99},
              {"MEDFORD", "975", 85}, {"BEAVERTON", "970", 97}};
CITIES(PA) = {{"PHILADELPHIA", "191", 1603}, {"PITTSBURGH", "152", 303}, {"ALLENTOWN", "181", 125},
              {"ERIE", "165", 94}, {"READING", "196", 95}, {"SCRANTON", "185", 76},
              {"BETHLEHEM", "180", 75}, {"LANCASTER", "176", 58}, {"HARRISBURG", "171", 50},
              {"STATE COLLEGE", "168", 40}};
CITIES(RI) = {{"PROVIDENCE", "029", 190}, {"WARWICK", "028", 82}, {"CRANSTON", "029", 82},
              {"PAWTUCKET", "028", 75}, {"NEWPORT", "028", 25}, {"WOONSOCKET", "028", 43}};
CITIES(SC) = {{"CHARLESTON", "294", 150}, {"COLUMBIA", "292", 136}, {"NORTH CHARLESTON", "294", 114},
              {"GREENVILLE", "296", 70}, {"ROCK HILL", "297", 74}, {"MYRTLE BEACH", "295", 35},
              {"SPARTANBURG", "293", 38}};
CITIES(SD) = {{"SIOUX FALLS", "571", 192}, {"RAPID CITY", "577", 74}, {"ABERDEEN", "574", 28},
              {"BROOKINGS", "570", 23}, {"WATERTOWN", "572", 22}, {"PIERRE", "575", 14}};
CITIES(TN) = {{"NASHVILLE", "372", 689}, {"MEMPHIS", "381", 633}, {"KNOXVILLE", "379", 190},
              {"CHATTANOOGA", "374", 181}, {"CLARKSVILLE", "370", 166},
              {"MURFREESBORO", "371", 152}, {"JACKSON", "383", 68}, {"JOHNSON CITY", "376", 71}};
CITIES(TX) = {{"HOUSTON", "770", 2304}, {"SAN ANTONIO", "782", 1434}, {"DALLAS", "752", 1304},
              {"AUSTIN", "787", 961}, {"FORT WORTH", "761", 918}, {"EL PASO", "799", 678},
              {"ARLINGTON", "760", 394}, {"CORPUS CHRISTI", "784", 317}, {"PLANO", "750", 285},
              {"LAREDO", "780", 255}, {"LUBBOCK", "794", 257}, {"AMARILLO", "791", 200},
              {"BROWNSVILLE", "785", 186}, {"MCALLEN", "785", 142}, {"WACO", "767", 138},
              {"TYLER", "757", 105}};
CITIES(UT) = {{"SALT LAKE CITY", "841", 200}, {"WEST VALLEY CITY", "841", 140}, {"PROVO", "846", 115},
              {"WEST JORDAN", "840", 116}, {"OREM", "840", 98}, {"OGDEN", "844", 87},
              {"ST GEORGE", "847", 95}, {"LOGAN", "843", 52}};
CITIES(VT) = {{"BURLINGTON", "054", 44}, {"SOUTH BURLINGTON", "054", 20}, {"RUTLAND", "057", 15},
              {"BARRE", "056", 8}, {"MONTPELIER", "056", 8}, {"BRATTLEBORO", "053", 12}};
CITIES(VA) = {{"VIRGINIA BEACH", "234", 459}, {"NORFOLK", "235", 238}, {"CHESAPEAKE", "233", 249},
              {"RICHMOND", "232", 226}, {"NEWPORT NEWS", "236", 186}, {"ALEXANDRIA", "223", 159},
              {"HAMPTON", "236", 137}, {"ROANOKE", "240", 100}, {"ARLINGTON", "222", 238},
              {"LYNCHBURG", "245", 79}, {"CHARLOTTESVILLE", "229", 46}};
CITIES(WA) = {{"SEATTLE", "981", 737}, {"SPOKANE", "992", 228}, {"TACOMA", "984", 219},
              {"VANCOUVER", "986", 190}, {"BELLEVUE", "980", 151}, {"KENT", "980", 136},
              {"EVERETT", "982", 110}, {"RENTON", "980", 106}, {"YAKIMA", "989", 96},
              {"KENNEWICK", "993", 83}, {"OLYMPIA", "985", 55}, {"BELLINGHAM", "982", 91},
              {"WENATCHEE", "988", 35}};
CITIES(WV) = {{"CHARLESTON", "253", 48}, {"HUNTINGTON", "257", 46}, {"MORGANTOWN", "265", 30},
              {"PARKERSBURG", "261", 29}, {"WHEELING", "260", 27}, {"BECKLEY", "258", 17}};
CITIES(WI) = {{"MILWAUKEE", "532", 577}, {"MADISON", "537", 269}, {"GREEN BAY", "543", 107},
              {"KENOSHA", "531", 99}, {"RACINE", "534", 77}, {"APPLETON", "549", 75},
              {"EAU CLAIRE", "547", 69}, {"LA CROSSE", "546", 52}};
CITIES(WY) = {{"CHEYENNE", "820", 65}, {"CASPER", "826", 59}, {"LARAMIE", "820", 32},
              {"GILLETTE", "827", 33}, {"ROCK SPRINGS", "829", 23}, {"SHERIDAN", "828", 18}};
CITIES(PR) = {{"SAN JUAN", "009", 342}, {"BAYAMON", "009", 185}, {"CAROLINA", "009", 154},
              {"PONCE", "007", 137}, {"CAGUAS", "007", 127}, {"MAYAGUEZ", "006", 73}};
CITIES(GU) = {{"HAGATNA", "969", 1}, {"DEDEDO", "969", 45}, {"TAMUNING", "969", 19}};
CITIES(VI) = {{"CHARLOTTE AMALIE", "008", 18}, {"CHRISTIANSTED", "008", 3}};
CITIES(AS) = {{"PAGO PAGO", "967", 4}, {"TAFUNA", "967", 7}};
CITIES(MP) = {{"SAIPAN", "969", 43}, {"TINIAN", "969", 2}};

/* Pattern letters: a = A-Z, s = the surname's first letter, d = 0-9, x = A-Z or 0-9,
 * p = a plate letter (A-Z without I, O, Q); anything else is literal. */
#define ST(code, name, h, a, oln, olnre, pl, plre) \
    {#code, name, h, a, oln, olnre, pl, plre, c_##code, N(c_##code)}
const struct sl_state sl_tab_states[] = {
    ST(AL, "ALABAMA", 5, 2, "ddddddd|dddddddd", "^[0-9]{7,8}$", "dppdddd", "^[0-9][A-Z]{2}[0-9]{4}$"),
    ST(AK, "ALASKA", 7, 7, "ddddddd", "^[0-9]{1,7}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(AZ, "ARIZONA", 31, 4, "adddddddd|ddddddddd", "^([A-Z][0-9]{8}|[0-9]{9})$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(AR, "ARKANSAS", 8, 2, "dddddddd|ddddddddd", "^[0-9]{4,9}$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(CA, "CALIFORNIA", 39, 16, "addddddd", "^[A-Z][0-9]{7}$", "dpppddd", "^[0-9][A-Z]{3}[0-9]{3}$"),
    ST(CO, "COLORADO", 22, 4, "ddddddddd", "^[0-9]{9}$", "ppppdd", "^[A-Z]{4}[0-9]{2}$"),
    ST(CT, "CONNECTICUT", 17, 5, "ddddddddd", "^[0-9]{9}$", "ppddddd", "^[A-Z]{2}[0-9]{5}$"),
    ST(DE, "DELAWARE", 10, 4, "ddddddd|dddddd", "^[0-9]{1,7}$", "dddddd|ddddddd", "^[0-9]{6,7}$"),
    ST(DC, "DISTRICT OF COLUMBIA", 11, 5, "ddddddd|ddddddddd", "^([0-9]{7}|[0-9]{9})$", "ppdddd", "^[A-Z]{2}[0-9]{4}$"),
    ST(FL, "FLORIDA", 27, 3, "sdddddddddddd", "^[A-Z][0-9]{12}$", "ppppdd", "^[A-Z]{4}[0-9]{2}$"),
    ST(GA, "GEORGIA", 10, 5, "ddddddd|dddddddd|ddddddddd", "^[0-9]{7,9}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(HI, "HAWAII", 11, 38, "Hdddddddd|ddddddddd", "^(H[0-9]{8}|[0-9]{9})$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(ID, "IDAHO", 13, 2, "aadddddda|ddddddddd", "^([A-Z]{2}[0-9]{6}[A-Z]|[0-9]{9})$", "dpddddd", "^[0-9][A-Z][0-9]{5}$"),
    ST(IL, "ILLINOIS", 18, 6, "sddddddddddd", "^[A-Z][0-9]{11}$", "ppddddd", "^[A-Z]{2}[0-9]{5}$"),
    ST(IN, "INDIANA", 8, 3, "dddddddddd", "^[0-9]{10}$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(IA, "IOWA", 7, 3, "ddddddddd|dddaadddd", "^([0-9]{9}|[0-9]{3}[A-Z]{2}[0-9]{4})$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(KS, "KANSAS", 13, 3, "Kdddddddd", "^K[0-9]{8}$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(KY, "KENTUCKY", 4, 2, "adddddddd", "^[A-Z][0-9]{8}$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(LA, "LOUISIANA", 7, 2, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(ME, "MAINE", 2, 1, "ddddddd", "^[0-9]{7}$", "ddddpp", "^[0-9]{4}[A-Z]{2}$"),
    ST(MD, "MARYLAND", 12, 7, "sdddddddddddd", "^[A-Z][0-9]{12}$", "dppdddd", "^[0-9][A-Z]{2}[0-9]{4}$"),
    ST(MA, "MASSACHUSETTS", 13, 7, "Sdddddddd|ddddddddd", "^(S[0-9]{8}|[0-9]{9})$", "dpppdd", "^[0-9][A-Z]{3}[0-9]{2}$"),
    ST(MI, "MICHIGAN", 6, 4, "sdddddddddddd", "^[A-Z][0-9]{12}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(MN, "MINNESOTA", 6, 5, "sdddddddddddd", "^[A-Z][0-9]{12}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(MS, "MISSISSIPPI", 3, 1, "ddddddddd", "^[0-9]{9}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(MO, "MISSOURI", 5, 2, "addddddddd|ddddddddd", "^([A-Z][0-9]{5,9}|[0-9]{9})$", "ppdpdp", "^[A-Z]{2}[0-9][A-Z][0-9][A-Z]$"),
    ST(MT, "MONTANA", 4, 1, "adddddddd|ddddddddddddd", "^([A-Z][0-9]{8}|[0-9]{9}|[0-9]{13})$", "ddddddp", "^[0-9]{6}[A-Z]$"),
    ST(NE, "NEBRASKA", 12, 3, "adddddddd", "^[A-Z][0-9]{6,8}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(NV, "NEVADA", 29, 9, "dddddddddd|dddddddddddd", "^([0-9]{10}|[0-9]{12}|X[0-9]{8})$", "dddpdd", "^[0-9]{3}[A-Z][0-9]{2}$"),
    ST(NH, "NEW HAMPSHIRE", 4, 3, "ddaaaddddd", "^[0-9]{2}[A-Z]{3}[0-9]{5}$", "ddddddd", "^[0-9]{7}$"),
    ST(NJ, "NEW JERSEY", 22, 10, "sdddddddddddddd", "^[A-Z][0-9]{14}$", "pddppp", "^[A-Z][0-9]{2}[A-Z]{3}$"),
    ST(NM, "NEW MEXICO", 48, 2, "ddddddddd", "^[0-9]{8,9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(NY, "NEW YORK", 19, 9, "ddddddddd", "^[0-9]{9}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(NC, "NORTH CAROLINA", 10, 3, "dddddddddddd", "^[0-9]{1,12}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(ND, "NORTH DAKOTA", 4, 2, "aaadddddd|ddddddddd", "^([A-Z]{3}[0-9]{6}|[0-9]{9})$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(OH, "OHIO", 5, 3, "aadddddd", "^[A-Z]{2}[0-9]{6}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(OK, "OKLAHOMA", 12, 2, "addddddddd|ddddddddd", "^([A-Z][0-9]{9}|[0-9]{9})$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(OR, "OREGON", 14, 5, "ddddddd|adddddd", "^([0-9]{1,9}|[A-Z][0-9]{6})$", "dddppp", "^[0-9]{3}[A-Z]{3}$"),
    ST(PA, "PENNSYLVANIA", 9, 4, "dddddddd", "^[0-9]{8}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(RI, "RHODE ISLAND", 17, 4, "ddddddd|Vdddddd", "^([0-9]{7}|V[0-9]{6})$", "dddddd|ppdddd", "^([0-9]{6}|[A-Z]{2}[0-9]{4})$"),
    ST(SC, "SOUTH CAROLINA", 7, 2, "ddddddddd", "^[0-9]{5,11}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(SD, "SOUTH DAKOTA", 5, 2, "dddddddd", "^([0-9]{6,10}|[0-9]{12})$", "dpdddd", "^[0-9][A-Z][0-9]{4}$"),
    ST(TN, "TENNESSEE", 7, 2, "ddddddddd", "^[0-9]{7,9}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(TX, "TEXAS", 40, 6, "dddddddd", "^[0-9]{7,8}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(UT, "UTAH", 15, 3, "ddddddddd", "^[0-9]{4,10}$", "pdddpp", "^[A-Z][0-9]{3}[A-Z]{2}$"),
    ST(VT, "VERMONT", 2, 2, "dddddddd|dddddddA", "^([0-9]{8}|[0-9]{7}A)$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(VA, "VIRGINIA", 11, 7, "adddddddd|ddddddddd", "^([A-Z][0-9]{8}|[0-9]{9})$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(WA, "WASHINGTON", 14, 11, "WDLxxxxxxxxx", "^WDL[A-Z0-9]{9}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(WV, "WEST VIRGINIA", 2, 1, "ddddddd|adddddd", "^([0-9]{7}|[A-Z]{1,2}[0-9]{5,6})$", "dppddd", "^[0-9][A-Z]{2}[0-9]{3}$"),
    ST(WI, "WISCONSIN", 8, 3, "sddddddddddddd", "^[A-Z][0-9]{13}$", "pppdddd", "^[A-Z]{3}[0-9]{4}$"),
    ST(WY, "WYOMING", 10, 1, "ddddddddd", "^[0-9]{9,10}$", "dddddd|ddddddd", "^[0-9]{6,7}$"),
    /* Territories: the generic format (docs/records.md): 9 digits, plates LLL999. */
    ST(PR, "PUERTO RICO", 99, 0, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(GU, "GUAM", 1, 35, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(VI, "US VIRGIN ISLANDS", 18, 1, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(AS, "AMERICAN SAMOA", 0, 2, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
    ST(MP, "NORTHERN MARIANA ISLANDS", 1, 50, "ddddddddd", "^[0-9]{9}$", "pppddd", "^[A-Z]{3}[0-9]{3}$"),
};
const size_t sl_tab_n_states = N(sl_tab_states);

/* ---- vehicles ---------------------------------------------------------------------- */
const struct sl_make_model sl_tab_vehicles[] = {
    {"TOYT", "CAMRY", "4T1", "4D", "PC", 40}, {"TOYT", "COROLLA", "2T1", "4D", "PC", 30},
    {"TOYT", "RAV4", "2T3", "UT", "PC", 45}, {"TOYT", "TACOMA", "3TM", "PK", "TK", 25},
    {"TOYT", "HIGHLANDER", "5TD", "UT", "PC", 20}, {"TOYT", "TUNDRA", "5TF", "PK", "TK", 12},
    {"TOYT", "PRIUS", "JTD", "HB", "PC", 10}, {"TOYT", "SIENNA", "5TD", "VN", "PC", 8},
    {"FORD", "F150", "1FT", "PK", "TK", 80}, {"FORD", "ESCAPE", "1FM", "UT", "PC", 25},
    {"FORD", "EXPLORER", "1FM", "UT", "PC", 25}, {"FORD", "FOCUS", "1FA", "4D", "PC", 12},
    {"FORD", "FUSION", "3FA", "4D", "PC", 15}, {"FORD", "MUSTANG", "1FA", "2D", "PC", 8},
    {"FORD", "RANGER", "1FT", "PK", "TK", 6}, {"FORD", "F250", "1FT", "PK", "TK", 12},
    {"FORD", "EDGE", "2FM", "UT", "PC", 8}, {"FORD", "TRANSIT", "1FT", "VN", "CO", 4},
    {"CHEV", "SILVERADO", "1GC", "PK", "TK", 60}, {"CHEV", "EQUINOX", "2GN", "UT", "PC", 25},
    {"CHEV", "MALIBU", "1G1", "4D", "PC", 18}, {"CHEV", "TAHOE", "1GN", "UT", "PC", 10},
    {"CHEV", "IMPALA", "2G1", "4D", "PC", 8}, {"CHEV", "COLORADO", "1GC", "PK", "TK", 6},
    {"CHEV", "CRUZE", "1G1", "4D", "PC", 8}, {"CHEV", "TRAVERSE", "1GN", "UT", "PC", 8},
    {"HOND", "CIVIC", "2HG", "4D", "PC", 35}, {"HOND", "ACCORD", "1HG", "4D", "PC", 35},
    {"HOND", "CR-V", "5J6", "UT", "PC", 40}, {"HOND", "PILOT", "5FN", "UT", "PC", 12},
    {"HOND", "ODYSSEY", "5FN", "VN", "PC", 8}, {"NISS", "ALTIMA", "1N4", "4D", "PC", 25},
    {"NISS", "ROGUE", "JN8", "UT", "PC", 25}, {"NISS", "SENTRA", "3N1", "4D", "PC", 15},
    {"NISS", "FRONTIER", "1N6", "PK", "TK", 6}, {"NISS", "PATHFINDER", "5N1", "UT", "PC", 6},
    {"JEEP", "GRAND CHEROKEE", "1C4", "UT", "PC", 20}, {"JEEP", "WRANGLER", "1C4", "UT", "PC", 15},
    {"JEEP", "CHEROKEE", "1C4", "UT", "PC", 10}, {"RAM", "1500", "1C6", "PK", "TK", 30},
    {"RAM", "2500", "3C6", "PK", "TK", 8}, {"DODG", "CHARGER", "2C3", "4D", "PC", 8},
    {"DODG", "GRAND CARAVAN", "2C4", "VN", "PC", 8}, {"DODG", "DURANGO", "1C4", "UT", "PC", 5},
    {"GMC", "SIERRA", "1GT", "PK", "TK", 18}, {"GMC", "ACADIA", "1GK", "UT", "PC", 6},
    {"GMC", "YUKON", "1GK", "UT", "PC", 5}, {"HYUN", "ELANTRA", "5NP", "4D", "PC", 12},
    {"HYUN", "SONATA", "5NP", "4D", "PC", 10}, {"HYUN", "TUCSON", "KM8", "UT", "PC", 12},
    {"HYUN", "SANTA FE", "5XY", "UT", "PC", 8}, {"KIA", "SORENTO", "5XY", "UT", "PC", 8},
    {"KIA", "OPTIMA", "5XX", "4D", "PC", 6}, {"KIA", "SOUL", "KND", "HB", "PC", 6},
    {"KIA", "FORTE", "3KP", "4D", "PC", 6}, {"SUBA", "OUTBACK", "4S4", "SW", "PC", 12},
    {"SUBA", "FORESTER", "JF2", "UT", "PC", 10}, {"SUBA", "CROSSTREK", "JF2", "UT", "PC", 8},
    {"SUBA", "IMPREZA", "JF1", "4D", "PC", 4}, {"VOLK", "JETTA", "3VW", "4D", "PC", 8},
    {"VOLK", "PASSAT", "1VW", "4D", "PC", 4}, {"VOLK", "TIGUAN", "3VV", "UT", "PC", 4},
    {"BMW", "3 SERIES", "WBA", "4D", "PC", 6}, {"BMW", "X5", "5UX", "UT", "PC", 4},
    {"MERZ", "C CLASS", "WDD", "4D", "PC", 5}, {"MERZ", "GLE", "4JG", "UT", "PC", 4},
    {"TESL", "MODEL 3", "5YJ", "4D", "PC", 6}, {"TESL", "MODEL Y", "7SA", "UT", "PC", 6},
    {"LEXS", "RX", "2T2", "UT", "PC", 6}, {"LEXS", "ES", "JTH", "4D", "PC", 4},
    {"MAZD", "CX-5", "JM3", "UT", "PC", 8}, {"MAZD", "3", "3MZ", "4D", "PC", 5},
    {"ACUR", "MDX", "5J8", "UT", "PC", 4}, {"AUDI", "Q5", "WA1", "UT", "PC", 4},
    {"HD", "SPORTSTER", "1HD", "MC", "MC", 8}, {"HD", "TOURING", "1HD", "MC", "MC", 8},
    {"HOND", "CBR", "JH2", "MC", "MC", 5}, {"YAMA", "YZF", "JYA", "MC", "MC", 4},
    {"KAWK", "NINJA", "JKA", "MC", "MC", 3}, {"UTIL", "VAN TRAILER", "1UY", "TL", "TL", 12},
    {"CARR", "UTILITY TRAILER", "4YM", "TL", "TL", 22}, {"BGTX", "FLATBED TRAILER", "16V", "TL", "TL", 16},
    {"FRHT", "CASCADIA", "3AK", "TT", "AP", 3}, {"KW", "T680", "1XK", "TT", "AP", 1},
    {"PTRB", "579", "1XP", "TT", "AP", 1},
};
const size_t sl_tab_n_vehicles = N(sl_tab_vehicles);

static const struct sl_wname vcolours[] = {
    {"WHI", 250}, {"BLK", 220}, {"GRY", 180}, {"SIL", 130}, {"BLU", 90}, {"RED", 90},
    {"BRO", 12}, {"MAR", 10}, {"GRN", 10}, {"BGE", 8}, {"GLD", 5}, {"TAN", 5}, {"ONG", 5},
    {"YEL", 3},
};
const struct sl_wlist sl_tab_vcolours = WL(vcolours);

/* ACD-style conviction codes: the letter families follow the AAMVA Code Dictionary
 * (A alcohol, B accidents, D licence, M moving, S speed, U unsafe), the numbers are ours. */
const struct sl_violation sl_tab_violations[] = {
    {"S10", "SPEEDING 1-10 MPH OVER LIMIT", 300}, {"S20", "SPEEDING 11-20 MPH OVER LIMIT", 180},
    {"S30", "SPEEDING 21+ MPH OVER LIMIT", 40}, {"M14", "FAIL TO OBEY TRAFFIC SIGNAL", 70},
    {"M42", "FAIL TO STOP AT STOP SIGN", 50}, {"M34", "FAIL TO YIELD RIGHT OF WAY", 45},
    {"M20", "FOLLOWING TOO CLOSELY", 35}, {"M80", "IMPROPER LANE CHANGE", 35},
    {"M90", "USE OF HANDHELD DEVICE", 45}, {"U07", "RECKLESS DRIVING", 15},
    {"A21", "DRIVING UNDER THE INFLUENCE", 30}, {"D45", "DRIVING WHILE SUSPENDED", 25},
    {"D56", "NO VALID LICENSE IN POSSESSION", 20}, {"D70", "NO PROOF OF INSURANCE", 40},
    {"B01", "LEAVING SCENE OF ACCIDENT", 5}, {"E31", "SEAT BELT VIOLATION", 50},
};
const size_t sl_tab_n_violations = N(sl_tab_violations);

static const struct sl_wname wreasons[] = {
    {"FAILURE TO APPEAR OR PAY", 35}, {"NO INSURANCE", 15}, {"DUI IMPLIED CONSENT", 15},
    {"EXCESS POINTS", 12}, {"CHILD SUPPORT", 8}, {"HABITUAL OFFENDER", 4}, {"MEDICAL", 3},
};
const struct sl_wlist sl_tab_withdrawal_reasons = WL(wreasons);
