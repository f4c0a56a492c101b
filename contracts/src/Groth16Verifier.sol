// SPDX-License-Identifier: GPL-3.0
/*
    Copyright 2021 0KIMS association.

    This file is generated with [snarkJS](https://github.com/iden3/snarkjs) from
    circuits/verifier_groth16.sol.ejs: snarkJS's Groth16 template with one change. The delta point, the
    only part of the verification key that a phase-2 contribution changes, is set at deployment
    (immutable) instead of compiled in, so `devsponsor zk contribute` needs no recompilation: deploy the
    same bytecode with the new delta.

    snarkJS is a free software: you can redistribute it and/or modify it
    under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    snarkJS is distributed in the hope that it will be useful, but WITHOUT
    ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
    or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public
    License for more details.

    You should have received a copy of the GNU General Public License
    along with snarkJS. If not, see <https://www.gnu.org/licenses/>.
*/

pragma solidity >=0.7.0 <0.9.0;

contract Groth16Verifier {
    // Scalar field size
    uint256 constant r    = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // Base field size
    uint256 constant q   = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    // Verification Key data
    uint256 constant alphax  = 15671639105460269500620009911646373035815351791540610604430031826563668267458;
    uint256 constant alphay  = 14636088857030739174954137286964392528795012642464282608711918246503993736519;
    uint256 constant betax1  = 21833433213244802935878081934208021103923908726501055189585005794841363623853;
    uint256 constant betax2  = 14916070121027544330433865222567045722609619956937444216965770976435877481028;
    uint256 constant betay1  = 10985116905847311829610686739467360712207947999390652193629153673943804809988;
    uint256 constant betay2  = 8068822808048557415173703870760229957141887010687693639604034132073101296852;
    uint256 constant gammax1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 constant gammax2 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 constant gammay1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 constant gammay2 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    // delta2 of the ceremony that produced this file, for reference: [x1, x2, y1, y2] =
    // [20001558617062815570735102036760004127473154686958310428857188416925146673400,
    //  17110008099040111498011537841780247215991152380078796568148119313665166701262,
    //  4962619488811165723947059973218848117866651098220168489835399432789799288876,
    //  5338124127477715333155707665985122921067449380489673202287576836641908730131]
    uint256 immutable deltax1;
    uint256 immutable deltax2;
    uint256 immutable deltay1;
    uint256 immutable deltay2;

    /// @param delta the vk_delta_2 point as [x1, x2, y1, y2] (x1 = vk_delta_2[0][1], x2 = vk_delta_2[0][0], ...)
    constructor(uint256[4] memory delta) {
        deltax1 = delta[0];
        deltax2 = delta[1];
        deltay1 = delta[2];
        deltay2 = delta[3];
    }

    
    uint256 constant IC0x = 12898960804106660882047811914944897468373259878003291877440999377519189167870;
    uint256 constant IC0y = 12155506851806945201796935911180559634824440336192495669343912423452443375638;
    
    uint256 constant IC1x = 4668314204876566545956762150568736959699741558870737364315957207044093377465;
    uint256 constant IC1y = 15722788129860609285831968840435117829655045966313438551930207262873743089347;
    
    uint256 constant IC2x = 10936958847460794216470550478995423166599047964825238416060725627015984772859;
    uint256 constant IC2y = 13458086280518460727716300763881325478598301609808066333255885405409200278514;
    
    uint256 constant IC3x = 2435828511953971492580008705856399752555864410140983666920122500220927786294;
    uint256 constant IC3y = 14909603880724175267368654251897650781479667590523146379894697769300335591164;
    
    uint256 constant IC4x = 15689500576394445148163796662885470354764260242115276826301403927007430740904;
    uint256 constant IC4y = 8202752901789940815036740967805734088083110777477966571014231139728876686231;
    
    uint256 constant IC5x = 18027085721955354719708837946759095961448718754192271957242994937359477142141;
    uint256 constant IC5y = 10170449123551178182727375055936710462849358711831317980451948233097211151670;
    
 
    // Memory data
    uint16 constant pVk = 0;
    uint16 constant pPairing = 128;

    uint16 constant pLastMem = 896;

    function verifyProof(uint[2] calldata _pA, uint[2][2] calldata _pB, uint[2] calldata _pC, uint[5] calldata _pubSignals) public view returns (bool) {
        uint256 dx1 = deltax1;
        uint256 dx2 = deltax2;
        uint256 dy1 = deltay1;
        uint256 dy2 = deltay2;
        assembly {
            function checkField(v) {
                if iszero(lt(v, r)) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }
            
            // G1 function to multiply a G1 value(x,y) to value in an address
            function g1_mulAccC(pR, x, y, s) {
                let success
                let mIn := mload(0x40)
                mstore(mIn, x)
                mstore(add(mIn, 32), y)
                mstore(add(mIn, 64), s)

                success := staticcall(sub(gas(), 2000), 7, mIn, 96, mIn, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }

                mstore(add(mIn, 64), mload(pR))
                mstore(add(mIn, 96), mload(add(pR, 32)))

                success := staticcall(sub(gas(), 2000), 6, mIn, 128, pR, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }

            function checkPairing(pA, pB, pC, pubSignals, pMem) -> isOk {
                let _pPairing := add(pMem, pPairing)
                let _pVk := add(pMem, pVk)

                mstore(_pVk, IC0x)
                mstore(add(_pVk, 32), IC0y)

                // Compute the linear combination vk_x
                
                g1_mulAccC(_pVk, IC1x, IC1y, calldataload(add(pubSignals, 0)))
                
                g1_mulAccC(_pVk, IC2x, IC2y, calldataload(add(pubSignals, 32)))
                
                g1_mulAccC(_pVk, IC3x, IC3y, calldataload(add(pubSignals, 64)))
                
                g1_mulAccC(_pVk, IC4x, IC4y, calldataload(add(pubSignals, 96)))
                
                g1_mulAccC(_pVk, IC5x, IC5y, calldataload(add(pubSignals, 128)))
                

                // -A
                mstore(_pPairing, calldataload(pA))
                mstore(add(_pPairing, 32), mod(sub(q, calldataload(add(pA, 32))), q))

                // B
                mstore(add(_pPairing, 64), calldataload(pB))
                mstore(add(_pPairing, 96), calldataload(add(pB, 32)))
                mstore(add(_pPairing, 128), calldataload(add(pB, 64)))
                mstore(add(_pPairing, 160), calldataload(add(pB, 96)))

                // alpha1
                mstore(add(_pPairing, 192), alphax)
                mstore(add(_pPairing, 224), alphay)

                // beta2
                mstore(add(_pPairing, 256), betax1)
                mstore(add(_pPairing, 288), betax2)
                mstore(add(_pPairing, 320), betay1)
                mstore(add(_pPairing, 352), betay2)

                // vk_x
                mstore(add(_pPairing, 384), mload(add(pMem, pVk)))
                mstore(add(_pPairing, 416), mload(add(pMem, add(pVk, 32))))


                // gamma2
                mstore(add(_pPairing, 448), gammax1)
                mstore(add(_pPairing, 480), gammax2)
                mstore(add(_pPairing, 512), gammay1)
                mstore(add(_pPairing, 544), gammay2)

                // C
                mstore(add(_pPairing, 576), calldataload(pC))
                mstore(add(_pPairing, 608), calldataload(add(pC, 32)))

                // delta2 is stored by the caller (immutables are not visible in inline assembly)

                let success := staticcall(sub(gas(), 2000), 8, _pPairing, 768, _pPairing, 0x20)

                isOk := and(success, mload(_pPairing))
            }

            let pMem := mload(0x40)
            mstore(0x40, add(pMem, pLastMem))

            // delta2
            mstore(add(pMem, add(pPairing, 640)), dx1)
            mstore(add(pMem, add(pPairing, 672)), dx2)
            mstore(add(pMem, add(pPairing, 704)), dy1)
            mstore(add(pMem, add(pPairing, 736)), dy2)

            // Validate that all evaluations ∈ F
            
            checkField(calldataload(add(_pubSignals, 0)))
            
            checkField(calldataload(add(_pubSignals, 32)))
            
            checkField(calldataload(add(_pubSignals, 64)))
            
            checkField(calldataload(add(_pubSignals, 96)))
            
            checkField(calldataload(add(_pubSignals, 128)))
            

            // Validate all evaluations
            let isValid := checkPairing(_pA, _pB, _pC, _pubSignals, pMem)

            mstore(0, isValid)
             return(0, 0x20)
         }
     }
 }
